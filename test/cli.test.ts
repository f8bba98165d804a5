/**
 * The CLI as a user runs it: `node bin/edgefleet.js …` as a child process in a temp folder,
 * asserting exit codes, what lands on stdout/stderr, and what is (not) written to disk.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inferenceStore, nodeIds, openDb, readingsWriter, recordOutcomes } from '../shared/store/index.js';
import { runCli as cli, type CliResult } from './harness/cli.js';
import { freePort } from './harness/ports.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'cli');
const INVENTORIES = join(import.meta.dirname, 'fixtures', 'inventories');
const LOCAL_INVENTORY = join(FIXTURES, 'local.ini');
const LOCAL_NODE = 'hub-local';
const show = (r: CliResult) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** A table as the CLI prints it (cells separated by two or more spaces) → one object per row, keyed by header. */
function parseTable(text: string): Record<string, string>[] {
  const lines = text.split('\n');
  const headerAt = lines.findIndex((l) => /^NODE\s/.test(l));
  assert.ok(headerAt >= 0, `no header row in:\n${text}`);
  const headers = lines[headerAt]!.trim().split(/ {2,}/);
  const rows: Record<string, string>[] = [];
  for (const line of lines.slice(headerAt + 1)) {
    if (!line.trim()) break;
    const cells = line.trim().split(/ {2,}/);
    rows.push(Object.fromEntries(headers.map((h, i) => [h, cells[i] ?? ''])));
  }
  return rows;
}

const rowOf = (text: string, node: string) => {
  const row = parseTable(text).find((r) => r.NODE === node);
  assert.ok(row, `no row for ${node} in:\n${text}`);
  return row;
};

/** The local node and one whose SSH port is closed, with the environment that lets a run try it. */
async function withDeadNode(cwd: string, connectTimeoutSeconds: number): Promise<{ inventory: string; port: number; env: Record<string, string> }> {
  const key = join(cwd, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const port = await freePort();
  const inventory = join(cwd, 'hosts.ini');
  writeFileSync(
    inventory,
    [`[hub]`, `${LOCAL_NODE} ansible_connection=local`, `[edge]`, `dead-node ansible_host=127.0.0.1 ansible_port=${port} ansible_user=edge ansible_ssh_private_key_file=${key}`, ''].join('\n'),
  );
  const env = {
    EDGEFLEET_SSH_ACCEPT_NEW_HOST_KEYS: 'true',
    EDGEFLEET_SSH_KNOWN_HOSTS_FILE: join(cwd, 'known_hosts'),
    EDGEFLEET_SSH_AGENT_SOCKET: '',
    EDGEFLEET_COLLECT_CONNECT_TIMEOUT_SECONDS: String(connectTimeoutSeconds),
  };
  return { inventory, port, env };
}

let root: string;
let n = 0;
/** A fresh, empty folder per test: the CLI's cwd. */
const freshDir = () => {
  const d = join(root, `t${++n}`);
  mkdirSync(d);
  return d;
};

before(() => {
  root = mkdtempSync(join(tmpdir(), 'edgefleet-cli-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('edgefleet run', () => {
  it('collects a local node: a table with the node up; the second run shows CPU usage', async () => {
    const cwd = freshDir();
    const db = join(cwd, 'fleet.db');
    const first = await cli(['run', '-i', LOCAL_INVENTORY, '--db', db], { cwd });
    assert.equal(first.code, 0, show(first));
    assert.equal(rowOf(first.stdout, LOCAL_NODE).STATUS, 'up', show(first));
    assert.match(first.stdout, /1\/1 nodes up/);
    assert.ok(existsSync(db));

    const second = await cli(['run', '-i', LOCAL_INVENTORY, '--db', db], { cwd });
    assert.equal(second.code, 0, show(second));
    const row = rowOf(second.stdout, LOCAL_NODE);
    assert.equal(row.STATUS, 'up');
    assert.match(row.CPU!, /^\d+(\.\d)?%$/, show(second));
    assert.doesNotMatch(second.stdout, /run again/, 'the "run again" hint is for the first round only');
  });

  it('--json prints a summary with perNode', async () => {
    const cwd = freshDir();
    const r = await cli(['run', '--json', '-i', LOCAL_INVENTORY, '--db', join(cwd, 'fleet.db')], { cwd });
    assert.equal(r.code, 0, show(r));
    const summary = JSON.parse(r.stdout) as { nodes: number; ok: number; perNode: { node: string; status: string; rows: number }[] };
    assert.equal(summary.nodes, 1);
    assert.equal(summary.ok, 1);
    assert.equal(summary.perNode.length, 1);
    assert.equal(summary.perNode[0]!.node, LOCAL_NODE);
    assert.equal(summary.perNode[0]!.status, 'up');
    assert.ok(summary.perNode[0]!.rows > 0);
  });

  for (const [what, file, line] of [
    ['an unclosed section header', join(FIXTURES, 'bad-section.ini'), 3],
    ['an unclosed quote', join(INVENTORIES, 'err-ini-unclosed-quote', 'inventory.ini'), 3],
  ] as const) {
    it(`rejects an inventory with ${what}: exit 1, file:line on stderr, no database written`, async () => {
      const cwd = freshDir();
      const db = join(cwd, 'fleet.db');
      const r = await cli(['run', '-i', file, '--db', db], { cwd });
      assert.equal(r.code, 1, show(r));
      assert.ok(r.stderr.includes(`${file}:${line}:`), show(r));
      assert.equal(r.stdout, '');
      assert.ok(!existsSync(db), 'the database was created for a malformed inventory');
    });
  }

  it('an unreachable node fails alone: exit 4, the local node still up, within the connect timeout', async () => {
    const cwd = freshDir();
    const connectTimeoutSeconds = 2;
    const { inventory, port, env } = await withDeadNode(cwd, connectTimeoutSeconds);
    const r = await cli(['run', '-i', inventory, '--db', join(cwd, 'fleet.db')], { cwd, env });
    assert.equal(r.code, 4, show(r));
    assert.equal(rowOf(r.stdout, LOCAL_NODE).STATUS, 'up', show(r));
    const dead = rowOf(r.stdout, 'dead-node');
    assert.equal(dead.STATUS, 'unreachable');
    assert.match(dead.ERROR!, new RegExp(`127\\.0\\.0\\.1:${port}.*(ECONNREFUSED|refused)`), show(r));
    assert.match(r.stdout, /1\/2 nodes up/);
    // The whole process, Node's start-up included, within the connect timeout plus slack.
    assert.ok(r.ms < (connectTimeoutSeconds + 3) * 1000, `took ${Math.round(r.ms)} ms`);
  });
});

describe('edgefleet invoke', () => {
  it('an unknown function: exit 1, stderr lists the known ones', async () => {
    const r = await cli(['invoke', 'noSuchFunction'], { cwd: freshDir() });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /noSuchFunction/);
    for (const fn of ['collectAll', 'listNodes', 'health']) assert.ok(r.stderr.includes(fn), show(r));
  });

  it('health with an event file prints the handler result as JSON', async () => {
    const cwd = freshDir();
    const r = await cli(['invoke', 'health', '--event', join(FIXTURES, 'event-empty.json'), '-i', LOCAL_INVENTORY, '--db', join(cwd, 'fleet.db')], { cwd });
    assert.equal(r.code, 0, show(r));
    const result = JSON.parse(r.stdout) as { statusCode: number; body: string };
    assert.equal(result.statusCode, 200);
    assert.equal((JSON.parse(result.body) as { status: string }).status, 'ok');
  });

  it('an event file with invalid JSON: exit 1, the file named', async () => {
    const file = join(FIXTURES, 'event-invalid.json');
    const r = await cli(['invoke', 'health', '--event', file], { cwd: freshDir() });
    assert.equal(r.code, 1, show(r));
    assert.ok(r.stderr.includes(file), show(r));
    assert.equal(r.stdout, '');
  });
});

describe('edgefleet inventory --list', () => {
  for (const [name, file] of [
    ['docs-basic-ini', 'hosts'],
    ['lab-ini-group-vars-dirs', 'hosts'],
    ['lab-yaml-typed', 'lab.yml'],
  ]) {
    it(`prints ${name} as ansible-inventory --list does`, async () => {
      const dir = join(INVENTORIES, name!);
      const r = await cli(['inventory', '-i', join(dir, file!), '--list'], { cwd: freshDir() });
      assert.equal(r.code, 0, show(r));
      assert.deepEqual(JSON.parse(r.stdout), JSON.parse(readFileSync(join(dir, 'expected.list.json'), 'utf8')));
    });
  }
});

describe('edgefleet nodes', () => {
  it('after a run, lists the node up and last seen (JSON and table)', async () => {
    const cwd = freshDir();
    const args = ['-i', LOCAL_INVENTORY, '--db', join(cwd, 'fleet.db')];
    const ran = await cli(['run', ...args], { cwd });
    assert.equal(ran.code, 0, show(ran));

    const json = await cli(['nodes', '--json', ...args], { cwd });
    assert.equal(json.code, 0, show(json));
    const nodes = JSON.parse(json.stdout) as { name: string; status: string; lastSeenUnixSeconds: number | null }[];
    assert.deepEqual(nodes.map((x) => x.name), [LOCAL_NODE]);
    assert.equal(nodes[0]!.status, 'up');
    assert.equal(typeof nodes[0]!.lastSeenUnixSeconds, 'number');
    assert.ok(Math.abs(nodes[0]!.lastSeenUnixSeconds! - Date.now() / 1000) < 60);

    const text = await cli(['nodes', ...args], { cwd, env: { TZ: 'UTC' } });
    assert.equal(text.code, 0, show(text));
    assert.match(text.stdout.split('\n')[0]!, /^NODE\s+GROUPS\s+HOST\s+CONNECTION\s+STATUS\s+LAST SEEN/);
    const row = rowOf(text.stdout, LOCAL_NODE);
    assert.equal(row.STATUS, 'up');
    assert.equal(row.GROUPS, 'hub');
    // Local time with its zone (the process's TZ; UTC here): the JSON's time, worked out by hand.
    assert.equal(row['LAST SEEN'], `${new Date(nodes[0]!.lastSeenUnixSeconds! * 1000).toISOString().slice(0, 19).replace('T', ' ')} UTC`);
  });
});

describe('edgefleet anomalies', () => {
  it('after a run with a dead node and a detection: its open unreachable episode (JSON and table); a bad --since is a usage error', async () => {
    const cwd = freshDir();
    const { inventory, env } = await withDeadNode(cwd, 2);
    const args = ['-i', inventory, '--db', join(cwd, 'fleet.db')];
    assert.equal((await cli(['run', ...args], { cwd, env })).code, 4);
    const detected = await cli(['invoke', 'detectAnomalies', ...args], { cwd, env });
    assert.equal(detected.code, 0, show(detected));

    const json = await cli(['anomalies', '--json', ...args], { cwd, env });
    assert.equal(json.code, 0, show(json));
    const rows = (JSON.parse(json.stdout) as { node: string; detector: string; kind: string; endUnixSeconds: number | null }[]).filter((a) => a.node === 'dead-node');
    assert.deepEqual(
      rows.map((a) => [a.detector, a.kind, a.endUnixSeconds]),
      [['rule', 'unreachable', null]],
    );
    const text = await cli(['anomalies', '--open', '--node', 'dead-node', ...args], { cwd, env });
    assert.equal(text.code, 0, show(text));
    const row = rowOf(text.stdout, 'dead-node');
    assert.equal(row.KIND, 'unreachable');
    assert.equal(row.END, 'open');

    const bad = await cli(['anomalies', '--since', 'yesterday', ...args], { cwd, env });
    assert.equal(bad.code, 1, show(bad));
    assert.match(bad.stderr, /--since: .*yesterday/);
  });
});

describe('edgefleet init', () => {
  it('writes edgefleet.yaml and creates the database; a second init keeps the file', async () => {
    const cwd = freshDir();
    const first = await cli(['init', '-i', LOCAL_INVENTORY], { cwd });
    assert.equal(first.code, 0, show(first));
    assert.match(first.stdout, /wrote edgefleet\.yaml/);
    assert.match(first.stdout, /1 added/);
    assert.match(readFileSync(join(cwd, 'edgefleet.yaml'), 'utf8'), /EDGEFLEET_INVENTORY/);
    assert.ok(existsSync(join(cwd, 'data', 'edgefleet.db')), 'the database (config default data/edgefleet.db) was not created');

    appendFileSync(join(cwd, 'edgefleet.yaml'), '# mine\n');
    const before = readFileSync(join(cwd, 'edgefleet.yaml'), 'utf8');
    const second = await cli(['init', '-i', LOCAL_INVENTORY], { cwd });
    assert.equal(second.code, 0, show(second));
    assert.match(second.stdout, /exists/);
    assert.equal(readFileSync(join(cwd, 'edgefleet.yaml'), 'utf8'), before);
  });
});

describe('usage errors', () => {
  it('an unknown flag: exit 1, one line naming it and where the help is', async () => {
    const r = await cli(['run', '--no-such-flag'], { cwd: freshDir() });
    assert.equal(r.code, 1, show(r));
    assert.equal(r.stderr, 'edgefleet: run: unknown flag --no-such-flag; see edgefleet run --help\n');
  });

  it('an unknown command: exit 1', async () => {
    const cwd = freshDir();
    const r = await cli(['frobnicate'], { cwd });
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /unknown command "frobnicate"/);
    assert.ok(!existsSync(join(cwd, 'data')), 'an unknown command wrote a database');
  });
});

/**
 * Terminal columns, from Unicode's EastAsianWidth.txt for the characters these tables print:
 * `AC00..D7A3;W` (Hangul syllables) and `1F525;W` (FIRE) take two; `00B0;A` (DEGREE SIGN) one,
 * as outside CJK-legacy terminals; everything else here is ASCII (`Na`), one.
 */
const columnsOf = (s: string) => [...s].reduce((w, ch) => w + ((ch >= '\uac00' && ch <= '\ud7a3') || ch === '🔥' ? 2 : 1), 0);

/**
 * A table's rows as cells with the terminal columns where each starts and ends; asserts each cell
 * lines up with its header: left-aligned cells start where the header starts, right-aligned
 * (numbers) end where it ends.
 */
function alignedRows(text: string): Record<string, string>[] {
  const cellsOf = (line: string) =>
    [...line.matchAll(/\S+(?: \S+)*/g)].map((m) => {
      const start = columnsOf(line.slice(0, m.index));
      return { text: m[0], start, end: start + columnsOf(m[0]) };
    });
  const lines = text.split('\n');
  const headers = cellsOf(lines[0]!);
  const rows: Record<string, string>[] = [];
  for (const line of lines.slice(1)) {
    if (!line.trim()) break;
    const cells = cellsOf(line);
    assert.ok(cells.length <= headers.length, `more cells than headers in ${JSON.stringify(line)}`);
    cells.forEach((c, i) => {
      const h = headers[i]!;
      assert.ok(c.start === h.start || c.end === h.end, `${h.text} cell ${JSON.stringify(c.text)} at columns ${c.start}-${c.end}, header at ${h.start}-${h.end}:\n${text}`);
    });
    rows.push(Object.fromEntries(headers.map((h, i) => [h.text, cells[i]?.text ?? ''])));
  }
  return rows;
}

describe('tables people can read: Korean names, stale readings, no sensors, local times', () => {
  const MACHINES = join(import.meta.dirname, 'fixtures', 'machines');
  const SEOUL = '서울-게이트웨이';
  const BUSAN = '부산-센서🔥';
  const PANGYO = '판교-노드';
  const memoryPercent = (machine: string) => (JSON.parse(readFileSync(join(MACHINES, machine, 'expected.json'), 'utf8')) as { memory: { usedPercent: number } }).memory.usedPercent;
  /** Asia/Seoul is UTC+9 all year (no daylight saving): local time by hand. */
  const seoulTime = (unixSeconds: number) => `${new Date((unixSeconds + 9 * 3600) * 1000).toISOString().slice(0, 19).replace('T', ' ')} GMT+9`;

  it('a node in error or unreachable shows last round’s readings stale with their age; one without sensors says so; columns line up by display width', async () => {
    const cwd = freshDir();
    const key = join(cwd, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const inventory = join(cwd, 'hosts.ini');
    writeFileSync(inventory, readFileSync(join(FIXTURES, 'korean.ini'), 'utf8').replaceAll('MACHINES', MACHINES).replaceAll('DEAD_PORT', String(await freePort())).replaceAll('KEY', key));
    const db = join(cwd, 'fleet.db');
    const args = ['-i', inventory, '--db', db];
    const env = { TZ: 'Asia/Seoul', EDGEFLEET_GEOCODER_PER_ROUND_LIMIT: '0', EDGEFLEET_SSH_ACCEPT_NEW_HOST_KEYS: 'true', EDGEFLEET_SSH_KNOWN_HOSTS_FILE: join(cwd, 'known_hosts'), EDGEFLEET_SSH_AGENT_SOCKET: '', EDGEFLEET_COLLECT_CONNECT_TIMEOUT_SECONDS: '2' };

    // Never collected: no readings, never seen.
    const fresh = await cli(['nodes', ...args], { cwd, env });
    assert.equal(fresh.code, 0, show(fresh));
    const before = Object.fromEntries(alignedRows(fresh.stdout).map((r) => [r.NODE, r]));
    assert.deepEqual([before[PANGYO]!['LAST SEEN'], before[PANGYO]!.TEMP, before[PANGYO]!.LOCATION], ['never', '-', '37.40210,127.10860']);

    // A round 200 s ago, when every node answered: written through the store as collectAll writes it.
    const t0 = Math.floor(Date.now() / 1000) - 200;
    const store = openDb(db);
    const memory = (usedPercent: number) => ({ memTotalBytes: 4e9, memFreeBytes: 1e9, usedPercent });
    const sensor = (celsius: number) => [{ source: 'thermal_zone' as const, sensor: 'thermal_zone0', type: 'cpu-thermal', celsius }];
    const ran = (node: string) => (['temperature', 'memory'] as const).map((kind) => ({ node, kind, success: true, durationMs: 1, rows: 1 }));
    readingsWriter(store).writeRound(
      [
        { node: BUSAN, timeUnixSeconds: t0, temperature: sensor(71.2), memory: memory(30) },
        { node: PANGYO, timeUnixSeconds: t0, temperature: sensor(58), memory: memory(40) },
      ],
      [],
      [...ran(BUSAN), ...ran(PANGYO)],
      () => recordOutcomes(store, [BUSAN, PANGYO].map((name) => ({ name, status: 'up', seenUnixSeconds: t0 })), t0),
    );
    store.close();

    // Now 부산's sensors print garbage (temperature rejected: error), 판교 is down (unreachable).
    const run = await cli(['run', ...args], { cwd, env });
    assert.equal(run.code, 4, show(run));
    const byNode = Object.fromEntries(alignedRows(run.stdout).map((r) => [r.NODE, r]));
    const pct = (v: number) => `${v.toFixed(1)}%`;
    assert.deepEqual(
      [SEOUL, BUSAN, PANGYO].map((n) => [n, byNode[n]!.STATUS, byNode[n]!.TEMP, byNode[n]!.MEM]),
      [
        [SEOUL, 'up', 'no sensors', pct(memoryPercent('x86-hub'))],
        [BUSAN, 'error', '71.2 °C (stale, 3 min)', pct(memoryPercent('rpi4'))],
        [PANGYO, 'unreachable', '58.0 °C (stale, 3 min)', '40.0% (stale, 3 min)'],
      ],
      show(run),
    );
    assert.match(byNode[BUSAN]!.ERROR!, /^temperature: \/sys\/class\/thermal\/thermal_zone0\/temp: not a temperature/);

    const listed = await cli(['nodes', ...args], { cwd, env });
    assert.equal(listed.code, 0, show(listed));
    const rows = Object.fromEntries(alignedRows(listed.stdout).map((r) => [r.NODE, r]));
    assert.deepEqual([rows[BUSAN]!.STATUS, rows[BUSAN]!.TEMP, rows[BUSAN]!.MEM], ['error', '71.2 °C (stale, 3 min)', pct(memoryPercent('rpi4'))]);
    assert.deepEqual([rows[PANGYO]!.STATUS, rows[PANGYO]!.TEMP, rows[PANGYO]!['LAST SEEN']], ['unreachable', '58.0 °C (stale, 3 min)', seoulTime(t0)]);
    assert.equal(rows[SEOUL]!.TEMP, 'no sensors');

    // --json: the same facts for machines, times as unix seconds and ISO 8601 UTC.
    const json = await cli(['nodes', '--json', ...args], { cwd, env });
    type Row = { name: string; lastSeenUnixSeconds: number; lastSeenUtc: string; latest: { roundUnixSeconds: number; readUnixSeconds: { temperature: number | null }; readUtc: { temperature: string | null }; noTemperatureSensors: boolean } };
    const nodes = Object.fromEntries((JSON.parse(json.stdout) as Row[]).map((n) => [n.name, n]));
    assert.equal(rows[SEOUL]!['LAST SEEN'], seoulTime(nodes[SEOUL]!.lastSeenUnixSeconds));
    assert.equal(nodes[PANGYO]!.lastSeenUtc, new Date(t0 * 1000).toISOString().replace('.000Z', 'Z'));
    assert.equal(nodes[BUSAN]!.latest.readUnixSeconds.temperature, t0);
    assert.equal(nodes[BUSAN]!.latest.readUtc.temperature, new Date(t0 * 1000).toISOString().replace('.000Z', 'Z'));
    assert.ok(nodes[BUSAN]!.latest.roundUnixSeconds > t0, 'the newer round did not get the temperature');
    assert.deepEqual([SEOUL, BUSAN, PANGYO].map((n) => nodes[n]!.latest.noTemperatureSensors), [true, false, false]);

    // inference stats shows each node's temperature meanwhile: "no sensors" where there is none.
    const again = openDb(db);
    const ids = nodeIds(again);
    inferenceStore(again).insert([SEOUL, BUSAN].map((n, i) => ({ nodeId: ids.get(n)!, deploymentId: null, model: 'lab/yolo', tag: 'v8', timeUnixMs: Date.now() - 60_000, record: { batch: 1, latencyMs: 12 }, source: 'push' as const, lineKey: BigInt(i + 1) })));
    again.close();
    const stats = await cli(['inference', 'stats', ...args], { cwd, env });
    assert.equal(stats.code, 0, show(stats));
    const temps = Object.fromEntries(alignedRows(stats.stdout).map((r) => [r.NODE, r['TEMP °C']]));
    // (부산 has a sensor, but no reading while it served: "-".)
    assert.deepEqual(temps, { [SEOUL]: 'no sensors', [BUSAN]: '-' }, show(stats));
  });
});

describe('the init template’s example inventory', () => {
  it('reads the same in ansible-inventory and edgefleet; a range line gives every host its own name and no one shared ansible_host', async () => {
    const cwd = freshDir();
    const init = await cli(['init'], { cwd });
    assert.equal(init.code, 0, show(init));
    const template = readFileSync(join(cwd, 'inventory', 'local.ini'), 'utf8');
    // The example as a user would uncomment it, and the old wrong form beside it (a range in a var is not expanded).
    const example = template.replace(/^# {3}/gm, '').replace(/^#.*\n/gm, '') + '[old]\nold-[01:02] ansible_host=192.0.2.[11:12]\n';
    const file = join(cwd, 'example.ini');
    writeFileSync(file, example);
    const ansible = JSON.parse(execFileSync('ansible-inventory', ['-i', file, '--list'], { cwd, encoding: 'utf8', env: { ...process.env, ANSIBLE_LOCAL_TEMP: join(cwd, '.ansible-tmp'), ANSIBLE_HOME: join(cwd, '.ansible') } })) as {
      _meta: { hostvars: Record<string, Record<string, string>> };
      jetsons: { hosts: string[] };
    };
    const ours = await cli(['inventory', '--list', '-i', file], { cwd });
    assert.equal(ours.code, 0, show(ours));
    assert.deepEqual(JSON.parse(ours.stdout), ansible);
    assert.deepEqual(ansible.jetsons.hosts, ['jetson-01.lab.example', 'jetson-02.lab.example', 'jetson-03.lab.example', 'jetson-04.lab.example', 'jetson-05']);
    assert.equal(ansible._meta.hostvars['jetson-02.lab.example']!.ansible_host, undefined);
    assert.equal(ansible._meta.hostvars['jetson-05']!.ansible_host, '192.0.2.15');
    assert.deepEqual([ansible._meta.hostvars['old-01']!.ansible_host, ansible._meta.hostvars['old-02']!.ansible_host], ['192.0.2.[11:12]', '192.0.2.[11:12]']);
  });
});
