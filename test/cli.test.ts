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

    const text = await cli(['nodes', ...args], { cwd });
    assert.equal(text.code, 0, show(text));
    assert.match(text.stdout.split('\n')[0]!, /^NODE\s+GROUPS\s+HOST\s+CONNECTION\s+STATUS\s+LAST SEEN/);
    const row = rowOf(text.stdout, LOCAL_NODE);
    assert.equal(row.STATUS, 'up');
    assert.equal(row.GROUPS, 'hub');
    assert.match(row['LAST SEEN']!, /^\d+s ago$/);
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
