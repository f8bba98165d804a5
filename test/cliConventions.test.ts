/**
 * CLI conventions a user meets first: each command's own --help, an unknown flag as one line
 * with the nearest flag, config values out of range named with what is allowed (file, variable
 * or flag alike), and shell completion that a real bash runs. Expected lines are written out here.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { table } from '../cli/table.js';
import { displayWidth, truncateToWidth } from '../cli/width.js';
import { BIN, runCli } from './harness/cli.js';

const root = mkdtempSync(join(tmpdir(), 'edgefleet-conv-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const d = join(root, `t${++n}`);
  mkdirSync(d);
  return d;
};

describe('edgefleet CMD --help', () => {
  for (const [cmd, usage, flag] of [
    ['run', 'Usage: edgefleet run [options]', '--json'],
    ['hub', 'Usage: edgefleet hub [options]', '--interval SECONDS'],
    ['deploy', 'Usage: edgefleet deploy MODEL:TAG [options]', '--publish H:C'],
    ['anomalies', 'Usage: edgefleet anomalies [options]', '--since D'],
  ] as const) {
    it(`${cmd} --help: its own usage, its flags and an example, exit 0`, async () => {
      const r = await runCli([cmd, '--help'], { cwd: fresh() });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.split('\n')[0], usage);
      assert.ok(r.stdout.includes(flag), r.stdout);
      assert.match(r.stdout, new RegExp(`^Examples?:\\n  edgefleet ${cmd} `, 'm'));
    });
  }
});

describe('errors: the exact command, its exit code and the first line of its message', () => {
  const yaml = (text: string) => {
    const d = fresh();
    writeFileSync(join(d, 'edgefleet.yaml'), text);
    return d;
  };
  for (const [args, env, code, first, cwd] of [
    [['run', '--bogus-flag'], {}, 1, 'edgefleet: run: unknown flag --bogus-flag; see edgefleet run --help'],
    [['run', '--jsn'], {}, 1, 'edgefleet: run: unknown flag --jsn (did you mean --json?); see edgefleet run --help'],
    [['hub', '--intervall', '5'], {}, 1, 'edgefleet: hub: unknown flag --intervall (did you mean --interval?); see edgefleet hub --help'],
    [['nodes', '--db'], {}, 1, 'edgefleet: nodes: --db needs a value (PATH); see edgefleet nodes --help'],
    [['runn'], {}, 1, 'edgefleet: unknown command "runn" (did you mean run?); see edgefleet --help'],
    [['hub', '--interval', '0'], {}, 1, 'edgefleet: --interval (hub.intervalSeconds): expected a number from 1 to 86400 (seconds), got "0"'],
    [['hub', '--port', '80x'], {}, 1, 'edgefleet: --port (hub.port): expected a whole number from 1 to 65535, got "80x"'],
    [['run'], { EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS: '-1' }, 1, 'edgefleet: EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS (collect.commandTimeoutSeconds): expected a number above 0 and at most 3600 (seconds), got "-1"'],
    [['run'], { EDGEFLEET_COLLECT_CONCURRENCY: '0' }, 1, 'edgefleet: EDGEFLEET_COLLECT_CONCURRENCY (collect.concurrency): expected a whole number from 1 to 4096, got "0"'],
    [['hub'], {}, 1, 'edgefleet: EDGEFLEET_CONFIG_DIR/edgefleet.yaml:2: "hub.intervalSeconds": expected a number from 1 to 86400 (seconds), got 0', 'hub:\n  intervalSeconds: 0\n'],
    [['nodes'], {}, 1, 'edgefleet: EDGEFLEET_CONFIG_DIR/edgefleet.yaml:1: unknown key "colect" (did you mean "collect"?)', 'colect:\n  concurrency: 4\n'],
  ] as [string[], Record<string, string>, number, string, string?][]) {
    it(`edgefleet ${args.join(' ')}${Object.entries(env).map(([k, v]) => ` ${k}=${v}`).join('')}${cwd ? ' (edgefleet.yaml)' : ''} → exit ${code}`, async () => {
      const dir = cwd ? yaml(cwd) : fresh();
      const r = await runCli(args, { cwd: dir, env, timeoutMs: 15_000 });
      assert.equal(r.code, code, r.stderr);
      assert.equal(r.stderr.split('\n')[0], first.replace('EDGEFLEET_CONFIG_DIR', dir));
    });
  }
});

describe('inventory and database problems: what, where, how to fix (Ansible’s words kept)', () => {
  /** Files under a fresh folder: { 'hosts.ini': '…' } → the folder. */
  const tree = (files: Record<string, string>) => {
    const d = fresh();
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(d, name, '..'), { recursive: true });
      writeFileSync(join(d, name), text);
    }
    return d;
  };
  for (const [what, files, inventory, first] of [
    ['a range without its "]"', { 'hosts.ini': '[edge]\njetson-[01:04 ansible_user=nvidia\n' }, 'hosts.ini',
      'edgefleet: D/hosts.ini:2: host pattern "jetson-[01:04" opens a range with "[" but has no closing "]"; write a range as name[01:04] (Ansible: not enough values to unpack (expected 3, got 2))'],
    ['a range bound that is no number', { 'hosts.ini': '[edge]\n\njetson-[01:xx]\n' }, 'hosts.ini',
      `edgefleet: D/hosts.ini:3: host pattern "jetson-[01:xx]": "xx" is not a number; a range is [01:04] (numbers) or [a:f] (single letters) (Ansible: invalid literal for int() with base 10: 'xx')`],
    ['a vault-encrypted vars file', { 'hosts': '[edge]\njetson-01\n', 'group_vars/edge.yml': '$ANSIBLE_VAULT;1.1;AES256\n62386239623938\n' }, 'hosts',
      'edgefleet: D/group_vars/edge.yml:1: encrypted with ansible-vault: edgefleet cannot read vault files (it has no vault password and stores no secrets); decrypt it (ansible-vault decrypt D/group_vars/edge.yml) or give edgefleet an inventory without it, with the vars it needs (ansible_host, ansible_user, ansible_port, ansible_ssh_private_key_file) in plain files (Ansible without a vault password: Attempting to decrypt but no vault secrets found)'],
    ['a directory whose only inventory is a .ini file (Ansible skips those in a directory)', { 'inventory/hosts.ini': '[edge]\njetson-01\n', 'inventory/group_vars/all.yml': 'ansible_user: pi\n' }, 'inventory',
      'edgefleet: D/inventory: no inventory file in this directory; skipped as Ansible does: hosts.ini (it ignores .ini files in an inventory directory); give the file itself (-i D/inventory/hosts.ini), or rename it without the extension'],
    ['a missing file', {}, 'nope.ini', 'edgefleet: D/nope.ini: no such inventory file or directory (set -i FILE, EDGEFLEET_INVENTORY, or inventory: in edgefleet.yaml)'],
  ] as [string, Record<string, string>, string, string][]) {
    it(`edgefleet inventory --list -i … with ${what} → exit 1`, async () => {
      const d = tree(files);
      const r = await runCli(['inventory', '--list', '-i', join(d, inventory)], { cwd: d });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.split('\n')[0], first.replaceAll('D/', `${d}/`));
    });
  }

  it('edgefleet run with a host that has no SSH credentials → exit 1 (a setting to fix, not rejected data), the others collected', async () => {
    const d = tree({ 'hosts.ini': '[hub]\nhub-local ansible_connection=local\n[edge]\nnokey ansible_host=127.0.0.1 ansible_port=1\n' });
    const r = await runCli(['run', '--json', '-i', join(d, 'hosts.ini'), '--db', join(d, 'f.db')], { cwd: d, env: { HOME: d, EDGEFLEET_SSH_AGENT_SOCKET: '', EDGEFLEET_SSH_KNOWN_HOSTS_FILE: join(d, 'known_hosts') } });
    assert.equal(r.code, 1, r.stderr);
    const by = Object.fromEntries((JSON.parse(r.stdout) as { perNode: { node: string; status: string; error?: string; errorKind?: string }[] }).perNode.map((n) => [n.node, n]));
    assert.equal(by['hub-local']!.status, 'up');
    assert.deepEqual([by.nokey!.status, by.nokey!.errorKind], ['error', 'config']);
    assert.equal(by.nokey!.error, 'no credentials for edge@127.0.0.1:1: set ansible_ssh_private_key_file, ssh.privateKeyFile or an ssh-agent'.replace('edge@', `${process.env.USER ?? 'root'}@`));
  });

  // root writes anywhere: the read-only cases run the CLI as nobody.
  const asNobody = process.getuid?.() === 0 ? (args: string[], cwd: string) => runCli(args, { cwd, env: { HOME: cwd, EDGEFLEET_LOG_LEVEL: 'silent' }, launcher: ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, BIN] }) : undefined;
  it('a database in a folder this user cannot write → exit 1 naming the path and the fix', { skip: !asNobody && 'needs root to switch to nobody' }, async () => {
    const d = tree({ 'local.ini': '[hub]\nhub-local ansible_connection=local\n' });
    chmodSync(root, 0o755); // mkdtemp's 0700 would keep nobody out of the whole tree
    chmodSync(d, 0o755);
    const r = await asNobody!(['nodes', '-i', join(d, 'local.ini'), '--db', join(d, 'fleet.db')], d);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.split('\n')[0], `edgefleet: cannot open database ${d}/fleet.db (unable to open database file): edgefleet writes the file and creates fleet.db-wal and fleet.db-shm beside it in ${d}; give user nobody write access, or set --db / EDGEFLEET_DB (db: in edgefleet.yaml) to a writable path`);
  });
});

describe('edgefleet completion', () => {
  it('bash: a real bash completes commands and the command’s flags', () => {
    const script = execFileSync(process.execPath, [BIN, 'completion', 'bash'], { encoding: 'utf8' });
    const complete = (words: string[]) =>
      execFileSync('bash', ['-c', `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _edgefleet; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(complete(['edgefleet', 'dep']), ['deploy', 'deployments']);
    assert.deepEqual(complete(['edgefleet', 'hub', '--in']), ['--interval', '--inventory']);
    assert.deepEqual(complete(['edgefleet', 'completion', '']), ['bash', 'zsh']);
  });

  it('zsh: a #compdef script naming every command', async () => {
    const r = await runCli(['completion', 'zsh'], { cwd: fresh() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n')[0], '#compdef edgefleet');
    for (const c of ['run', 'hub', 'deploy', 'inference']) assert.match(r.stdout, new RegExp(`^    '${c}:`, 'm'));
  });

  it('an unknown shell: exit 1', async () => {
    const r = await runCli(['completion', 'fish'], { cwd: fresh() });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'edgefleet: completion takes bash or zsh\n');
  });
});

// Independent cases (a fresh folder each), mostly Node's start-up: run three at a time.
describe('an empty result says so (and --json is still [])', { concurrency: 3 }, () => {
  for (const [args, first] of [
    [['nodes'], 'no nodes in the inventory D/empty.ini: add hosts to it (see edgefleet init)'],
    [['run'], 'no nodes in the inventory D/empty.ini: add hosts to it (see edgefleet init)'],
    [['geolocate'], 'no nodes in the inventory D/empty.ini: add hosts to it (see edgefleet init)'],
    [['deployments'], 'no deployments yet (edgefleet deploy MODEL:TAG --nodes a,b starts one)'],
    [['anomalies'], 'no anomalies in the last 24 h, and none open'],
    [['anomalies', '--since', '6h', '--node', 'pi-01'], 'no anomalies on pi-01 in the last 6 h, and none open'],
    [['anomalies', '--open'], 'no open anomalies now'],
    [['inference', 'stats', '--since', '30m'], 'no inferences in the last 30 min'],
    [['models'], 'no models: no registries configured (registries: in edgefleet.yaml, or EDGEFLEET_REGISTRY_URL)'],
  ] as [string[], string][]) {
    it(`edgefleet ${args.join(' ')} on an empty database → exit 0, "${first.replace(/ D\/.*$/, ' …')}"`, async () => {
      const d = fresh();
      writeFileSync(join(d, 'empty.ini'), '# nothing yet\n[edge]\n');
      const common = ['-i', join(d, 'empty.ini'), '--db', join(d, 'f.db')];
      const r = await runCli([...args, ...common], { cwd: d });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, first.replace('D/', `${d}/`) + '\n');
      // (run's and geolocate's --json is a summary object; the lists' --json is the same code: three suffice.)
      if (!['nodes', 'deployments', 'anomalies'].includes(args[0]!) || args.length > 1) return;
      const j = await runCli([...args, '--json', ...common], { cwd: d });
      assert.equal(j.code, 0, j.stderr);
      assert.equal(j.stdout, '[]\n');
    });
  }
});

describe('display width (cli/width.ts) against Unicode’s EastAsianWidth.txt', () => {
  // Widths written from EastAsianWidth.txt (16.0) for the characters used: AC00..D7A3;W Hangul
  // syllables, 1100..115F;W Hangul choseong (1160..11FF jungseong/jongseong join its cluster),
  // 4E00..9FFF;W CJK, FF01..FF60;F full-width forms, FF61..FF9F;H half-width katakana (one),
  // 1F525;W FIRE, 00B0;A DEGREE SIGN (one), ASCII Na (one); emoji sequences are one cluster.
  for (const [text, columns] of [
    ['edge-01', 7],
    ['서울특별시 강남구', 17],
    ['\u1100\u1161\u11a8', 2], // 각, decomposed: one syllable
    ['中文', 4],
    ['Ａ１', 4],
    ['ｱｲ', 2],
    ['71.2 °C', 7],
    ['🔥x', 3],
    ['👩‍💻', 2], // woman + ZWJ + laptop
    ['🇰🇷', 2], // two regional indicators: one flag
    ['e\u0301', 1], // e + combining acute
  ] as [string, number][]) {
    it(`${JSON.stringify(text)} takes ${columns} columns`, () => assert.equal(displayWidth(text), columns));
  }

  it('truncation never cuts a wide character or a cluster in half', () => {
    assert.equal(truncateToWidth('서울특별시 강남구', 6), '서울…'); // 2+2+1: a third syllable would make 7
    assert.equal(truncateToWidth('서울특별시 강남구', 7), '서울특…');
    assert.equal(truncateToWidth('a👩‍💻👩‍💻', 4), 'a👩‍💻…');
    assert.equal(truncateToWidth('short', 10), 'short');
  });

  it('a table pads by columns, and a newline or escape in a cell cannot break its row', () => {
    assert.equal(table(['NODE', 'ERROR'], [['서울', 'a\nb'], ['pi-01', '\x1b[31mred']]), ['NODE   ERROR', '서울   a b', 'pi-01  [31mred'].join('\n'));
  });
});
