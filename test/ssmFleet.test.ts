/**
 * One inventory, three transports, one round: sshd nodes on loopback, SSM managed instances
 * on the local SSM server (real @aws-sdk/client-ssm, SigV4 checked), and the hub itself. An
 * SSM node reading a machine's capture must store exactly what an SSH node reading the same
 * capture stores — the SSH path is the independent reference.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { lambdaContext } from '../cli/lambdaContext.js';
import type { CollectionSummary } from '../shared/collect/collection.js';
import { closeResources } from '../shared/handler/resources.js';
import { runCli } from './harness/cli.js';
import { managedInstanceId, startSsmServer, type SsmServer } from './harness/ssmServer.js';
import { startFleet, type Fleet } from './harness/sshFleet.js';

const MACHINES = join(import.meta.dirname, 'fixtures', 'machines');
const PAIRED = ['rpi4', 'jetson-orin'] as const;
const LOST = managedInstanceId(0x1057);
/** What the local SSM server reports for the instances (DescribeInstanceInformation). */
const AGENT = { agentVersion: '3.2.582.0', platformName: 'Raspbian GNU/Linux', platformVersion: '11' };
const LOST_PING_UNIX_SECONDS = 1_780_000_000;
const SAVED_ENV = { ...process.env };

let dir: string;
let fleet: Fleet;
let ssm: SsmServer;
let db: Database.Database;
let rounds: CollectionSummary[] = [];

function makeRoot(machine: string): string {
  const root = join(dir, 'roots', machine);
  mkdirSync(root, { recursive: true });
  cpSync(join(MACHINES, machine, 'proc'), join(root, 'proc'), { recursive: true });
  if (existsSync(join(MACHINES, machine, 'sys'))) cpSync(join(MACHINES, machine, 'sys'), join(root, 'sys'), { recursive: true, verbatimSymlinks: true });
  else mkdirSync(join(root, 'sys'));
  writeFileSync(join(root, 'proc', 'uptime'), '1000.00 3500.00\n');
  return root;
}

async function collectAll(): Promise<CollectionSummary> {
  const { handler } = await import('../functions/collectAll.js');
  return (await handler({}, lambdaContext('collectAll') as never)) as CollectionSummary;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-ssmfleet-'));
  chmodSync(dir, 0o755);
  const roots = Object.fromEntries([...PAIRED, 'x86-hub'].map((m) => [m, makeRoot(m)]));
  fleet = await startFleet({ count: PAIRED.length });
  const ids = PAIRED.map((_, i) => managedInstanceId(0x100 + i));
  ssm = await startSsmServer({
    instances: [...ids.map((id) => ({ id, root: dir, ...AGENT })), { id: LOST, root: dir, pingStatus: 'ConnectionLost' as const, lastPingUnixSeconds: LOST_PING_UNIX_SECONDS }],
  });
  const rootVars = (m: string) => `edgefleet_proc_root=${roots[m]}/proc edgefleet_sys_root=${roots[m]}/sys`;
  const lines = ['[ssh]'];
  fleet.nodes.forEach((n, i) =>
    lines.push(`ssh-${PAIRED[i]} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile} ${rootVars(PAIRED[i]!)}`),
  );
  lines.push('', '[ssm]');
  // Both of Ansible's spellings, and both places the instance id may be.
  lines.push(`ssm-${PAIRED[0]} ansible_connection=community.aws.aws_ssm ansible_aws_ssm_instance_id=${ids[0]} ${rootVars(PAIRED[0])}`);
  lines.push(`ssm-${PAIRED[1]} ansible_connection=aws_ssm ansible_host=${ids[1]} ${rootVars(PAIRED[1])}`);
  lines.push(`ssm-lost ansible_connection=aws_ssm ansible_aws_ssm_instance_id=${LOST} ansible_aws_ssm_region=${ssm.region}`);
  lines.push('', '[hub]', `localhost ansible_connection=local ${rootVars('x86-hub')}`);
  writeFileSync(join(dir, 'hosts.ini'), lines.join('\n') + '\n');
  Object.assign(process.env, ssm.env, {
    AWS_CONFIG_FILE: join(dir, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
    EDGEFLEET_INVENTORY: join(dir, 'hosts.ini'),
    EDGEFLEET_DB: join(dir, 'edgefleet.db'),
    EDGEFLEET_SSH_KNOWN_HOSTS_FILE: fleet.knownHostsFile,
    EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS: '5',
    EDGEFLEET_LOG_LEVEL: 'silent',
  });
  delete process.env.AWS_PROFILE;
  rounds.push(await collectAll());
  await new Promise((r) => setTimeout(r, 1100));
  for (const m of PAIRED) {
    cpSync(join(MACHINES, m, 'proc1'), join(roots[m]!, 'proc'), { recursive: true });
    writeFileSync(join(roots[m]!, 'proc', 'uptime'), '1010.00 3600.00\n');
  }
  rounds.push(await collectAll());
  db = new Database(join(dir, 'edgefleet.db'), { readonly: true });
});

after(async () => {
  db?.close();
  await closeResources();
  await ssm?.close();
  await fleet?.close();
  rmSync(dir, { recursive: true, force: true });
  process.env = SAVED_ENV;
});

describe('a round over SSH, SSM and local nodes', () => {
  it('collects every node of every transport in the same round; the lost agent is unreachable, alone', () => {
    for (const r of rounds) {
      const by = Object.fromEntries(r.perNode.map((n) => [n.node, n]));
      for (const n of ['ssh-rpi4', 'ssh-jetson-orin', 'ssm-rpi4', 'ssm-jetson-orin', 'localhost']) assert.equal(by[n]?.status, 'up', `${n}: ${by[n]?.error}`);
      assert.equal(by['ssm-lost']?.status, 'unreachable');
      assert.match(by['ssm-lost']!.error!, /SSM agent ConnectionLost/);
      // The lost agent costs no command timeout (5 s): the round is the SSM round trip.
      assert.ok(r.durationMs < 4000, `round took ${r.durationMs} ms`);
    }
    // Two SSM nodes with different roots: two commands per round, never one per node of a group.
    assert.equal(ssm.calls.get('SendCommand'), 4);
    assert.deepEqual(ssm.rejected, []);
  });

  it('stores for an SSM node exactly what SSH stores for the same capture', () => {
    const id = (name: string) => (db.prepare('SELECT id FROM nodes WHERE name = ?').get(name) as { id: number }).id;
    for (const m of PAIRED) {
      for (const table of ['temperature', 'cpu', 'load', 'memory', 'network']) {
        const rows = (name: string) =>
          (db.prepare(`SELECT * FROM ${table} WHERE node_id = ? ORDER BY time`).all(id(name)) as Record<string, unknown>[])
            .map(({ node_id: _n, time: _t, ...rest }) => JSON.stringify(rest))
            .sort();
        const want = rows(`ssh-${m}`);
        assert.ok(want.length > 0, `${m} ${table}: SSH stored rows`);
        assert.deepEqual(rows(`ssm-${m}`), want, `${m} ${table}`);
      }
    }
  });

  it('edgefleet nodes shows the SSM node whose agent is offline as unreachable, with the reason', async () => {
    const r = await runCli(['nodes', '--json'], { cwd: dir, env: { EDGEFLEET_INVENTORY: join(dir, 'hosts.ini'), EDGEFLEET_DB: join(dir, 'edgefleet.db') } });
    assert.equal(r.code, 0, r.stderr);
    const lost = (JSON.parse(r.stdout) as { name: string; status: string; lastError?: string }[]).find((n) => n.name === 'ssm-lost');
    assert.equal(lost?.status, 'unreachable');
    assert.match(JSON.stringify(lost), /SSM agent ConnectionLost/);
  });

  it('edgefleet nodes and GET /nodes show each SSM node\'s agent version, platform and ping; SSH and local nodes have none', async () => {
    const env = { EDGEFLEET_INVENTORY: join(dir, 'hosts.ini'), EDGEFLEET_DB: join(dir, 'edgefleet.db') };
    const r = await runCli(['nodes', '--json'], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    const cli = Object.fromEntries((JSON.parse(r.stdout) as { name: string; ssmAgent: unknown }[]).map((n) => [n.name, withoutUtcTwin(n.ssmAgent)]));
    const { handler } = await import('../functions/listNodes.js');
    process.env.EDGEFLEET_API_READ_KEY = 'read-key-for-test';
    const res = (await handler({ headers: { 'x-api-key': 'read-key-for-test' } } as never, lambdaContext('listNodes') as never)) as { statusCode: number; body: string };
    delete process.env.EDGEFLEET_API_READ_KEY;
    assert.equal(res.statusCode, 200, res.body);
    const api = Object.fromEntries((JSON.parse(res.body).nodes as { name: string; ssmAgent: unknown }[]).map((n) => [n.name, n.ssmAgent]));
    for (const got of [cli, api]) {
      for (const m of PAIRED) assert.deepEqual(omitPing(got[`ssm-${m}`]), { ...AGENT, pingStatus: 'Online' }, `ssm-${m}`);
      assert.deepEqual(got['ssm-lost'], { agentVersion: '3.3.1142.0', platformName: 'Ubuntu', platformVersion: '22.04', pingStatus: 'ConnectionLost', lastPingUnixSeconds: LOST_PING_UNIX_SECONDS });
      for (const n of ['ssh-rpi4', 'localhost']) assert.equal(got[n], null, n);
    }
    const table = await runCli(['nodes'], { cwd: dir, env });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /SSM AGENT/);
    assert.match(table.stdout.split('\n').find((l) => l.startsWith('ssm-rpi4'))!, /Online 3\.2\.582\.0 Raspbian GNU\/Linux 11/);
    assert.match(table.stdout.split('\n').find((l) => l.startsWith('ssm-lost'))!, /ConnectionLost 3\.3\.1142\.0 Ubuntu 22\.04/);
  });
});

/** The CLI's --json adds ISO 8601 UTC beside each time (lastPingUtc): checked, then left out to compare with GET /nodes. */
function withoutUtcTwin(a: unknown): unknown {
  if (!a) return a;
  const { lastPingUtc, ...rest } = a as { lastPingUtc?: string | null; lastPingUnixSeconds?: number | null };
  if ('lastPingUnixSeconds' in rest) assert.equal(lastPingUtc, rest.lastPingUnixSeconds == null ? null : new Date(rest.lastPingUnixSeconds * 1000).toISOString().replace('.000Z', 'Z'));
  return rest;
}

/** An Online agent's last ping is a few seconds before the round: present, but not a fixed value. */
function omitPing(a: unknown): unknown {
  const { lastPingUnixSeconds, ...rest } = (a ?? {}) as { lastPingUnixSeconds?: number };
  assert.ok(typeof lastPingUnixSeconds === 'number' && Math.abs(Date.now() / 1000 - lastPingUnixSeconds) < 120, `last ping ${lastPingUnixSeconds}`);
  return rest;
}
