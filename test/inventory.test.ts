import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  expandHostnameRange,
  InventoryError,
  loadInventory,
  parseIniValue,
  parseInventory,
  toAnsibleList,
} from '../shared/inventory/index.js';

const CASES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'inventories');

interface CaseJson {
  plugin: 'ini' | 'yaml';
  inventory: string;
}

/** The message after "with <plugin> plugin: " on Ansible's "Failed to parse" warning. */
function ansibleMessage(errorText: string): string {
  const m = /Failed to parse .*? with \w+ plugin: ([\s\S]*?)\n\[WARNING\]: Unable to parse/.exec(errorText);
  assert.ok(m, 'expected.error.txt has a "Failed to parse" warning');
  return m[1]!.trim();
}

describe('ansible-inventory --list conformance', () => {
  const cases = readdirSync(CASES, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();

  it('has the fixture cases', () => {
    assert.ok(cases.length >= 16, `found ${cases.length} cases`);
  });

  for (const name of cases) {
    const dir = join(CASES, name);
    const meta = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as CaseJson;
    const file = join(dir, meta.inventory);

    if (existsSync(join(dir, 'expected.list.json'))) {
      it(`${name}: matches expected.list.json`, () => {
        const expected = JSON.parse(readFileSync(join(dir, 'expected.list.json'), 'utf8')) as unknown;
        // Format is guessed from the file, as a caller of loadInventory(path) would get it.
        assert.deepEqual(toAnsibleList(loadInventory(file)), expected);
        // ...and the explicit plugin choice gives the same answer (a directory may mix formats).
        if (!statSync(file).isDirectory()) assert.deepEqual(toAnsibleList(loadInventory(file, { format: meta.plugin })), expected);
      });
    } else {
      it(`${name}: is rejected like expected.error.txt`, () => {
        const expected = ansibleMessage(readFileSync(join(dir, 'expected.error.txt'), 'utf8'));
        // Ansible's INI messages start "path:line: "; the rest must appear verbatim in ours.
        const located = /^(\S+?):(\d+): ([\s\S]*)$/.exec(expected);
        const body = located ? located[3]! : expected;
        assert.throws(
          () => loadInventory(file),
          (err: unknown) => {
            assert.ok(err instanceof InventoryError, `not an InventoryError: ${String(err)}`);
            assert.ok(err.message.includes(meta.inventory), `file name missing: ${err.message}`);
            assert.equal(err.file, file);
            if (located) {
              assert.equal(err.line, Number(located[2]));
              assert.ok(err.message.includes(`${meta.inventory}:${located[2]}:`), err.message);
            }
            assert.ok(err.message.includes(body.split('\n')[0]!), `message differs:\n${err.message}\nexpected:\n${body}`);
            return true;
          },
        );
      });
    }
  }
});

describe('host ranges (expandHostnameRange)', () => {
  it('numeric with stride', () => {
    assert.deepEqual(expandHostnameRange('jetson[01:09:4]'), ['jetson01', 'jetson05', 'jetson09']);
  });
  it('letters walk a..z then A..Z', () => {
    assert.deepEqual(expandHostnameRange('rack-[y:B]'), ['rack-y', 'rack-z', 'rack-A', 'rack-B']);
  });
  it('two ranges make a product, leftmost slowest', () => {
    assert.deepEqual(expandHostnameRange('r[1:2]n[a:b]'), ['r1na', 'r1nb', 'r2na', 'r2nb']);
  });
  it('padding comes from a zero-led start only', () => {
    assert.deepEqual(expandHostnameRange('m[8:010]').length, 3);
    assert.throws(() => expandHostnameRange('db[01:100]'), /equal-length/);
    assert.throws(() => expandHostnameRange('db[1:]'), /end value/);
  });
});

describe('INI value typing (parseIniValue, like ast.literal_eval)', () => {
  it('types Python literals', () => {
    assert.equal(parseIniValue('42'), 42);
    assert.equal(parseIniValue('0x1F'), 31);
    assert.equal(parseIniValue('1_000'), 1000);
    assert.equal(parseIniValue('-5'), -5);
    assert.equal(parseIniValue('True'), true);
    assert.equal(parseIniValue('None'), null);
    assert.equal(parseIniValue("'0042'"), '0042');
    assert.deepEqual(parseIniValue('(1, 2)'), [1, 2]);
    assert.deepEqual(parseIniValue("{'gpu': 'orin', 'tops': 275}"), { gpu: 'orin', tops: 275 });
    assert.equal(parseIniValue('30 # seconds'), 30);
  });
  it('keeps anything else as text', () => {
    assert.equal(parseIniValue('010'), '010');
    assert.equal(parseIniValue('yes'), 'yes');
    assert.equal(parseIniValue('true'), 'true');
    assert.equal(parseIniValue('hello # not a comment'), 'hello # not a comment');
    assert.equal(parseIniValue('서울특별시 강남구'), '서울특별시 강남구');
    assert.equal(parseIniValue(''), '');
  });
});

describe('parseInventory', () => {
  it('types YAML the way PyYAML (YAML 1.1) does', () => {
    const inv = parseInventory(
      'all:\n  hosts:\n    cam1:\n      a: yes\n      b: y\n      c: 010\n      d: 1:30\n      e: 1.5e3\n      f: 0b11\n      g: 2024-05-01\n      h: "on"\n',
      'lab.yml',
    );
    assert.deepEqual(inv.hosts.get('cam1')?.vars, { a: true, b: 'y', c: 8, d: 90, e: '1.5e3', f: 3, g: '2024-05-01', h: 'on' });
  });
  it('reports the line of a bad INI line', () => {
    assert.throws(() => parseInventory('[edge]\nnode1\nnode2 gpu\n', 'lab.ini'), (e: unknown) => e instanceof InventoryError && e.line === 3 && /lab\.ini:3:/.test(e.message));
  });
  it('lists groups of a host, through children, without all', () => {
    const inv = parseInventory('[jetson]\nj1\n[gpu:children]\njetson\n[lab:children]\ngpu\n', 'lab.ini');
    assert.deepEqual(inv.hosts.get('j1')?.groups, ['gpu', 'jetson', 'lab']);
    assert.deepEqual(toAnsibleList(inv)['all'], { children: ['ungrouped', 'lab'] });
  });
});
