import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Client } from 'ssh2';
import { knownHostsVerifier } from './harness/knownHosts.js';
import { processTree, readStat } from './harness/procTree.js';
import { startFleet, type Fleet, type FleetNode } from './harness/sshFleet.js';

let fleet: Fleet;
before(async () => {
  fleet = await startFleet({ count: 3 });
});
after(async () => {
  await fleet?.close();
});

/** Connect to a node, verifying its host key as known_hosts lists it for `as` (default: itself). */
function connectTo(node: FleetNode, as: FleetNode = node): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client
      .on('ready', () => {
        client.setNoDelay(true); // without it Nagle + delayed ACK add ~40 ms to each command
        resolve(client);
      })
      .on('error', reject)
      .connect({
        host: node.host,
        port: node.port,
        username: node.user,
        privateKey: readFileSync(node.privateKeyFile),
        hostVerifier: knownHostsVerifier(node.knownHostsFile, as.host, as.port),
        readyTimeout: 5000,
      });
  });
}

function exec(client: Client, command: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, stream) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      stream.on('data', (d: Buffer) => (stdout += d));
      stream.stderr.on('data', (d: Buffer) => (stderr += d));
      stream.on('close', (code: number) => resolve({ stdout, stderr, code }));
    });
  });
}

/** Whether a pid is a process that has not exited (zombies have, they only wait to be reaped). */
function running(pid: number): boolean {
  try {
    return readStat(pid) !== undefined && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('nodes run commands as the test user, over a host key from known_hosts', async () => {
  assert.equal(fleet.nodes.length, 3);
  assert.equal(new Set(fleet.nodes.map((n) => n.port)).size, 3);
  for (const node of fleet.nodes) {
    const client = await connectTo(node);
    const { stdout, stderr, code } = await exec(client, 'echo hi; cat /proc/loadavg');
    client.end();
    assert.equal(code, 0);
    assert.equal(stderr, '');
    assert.match(stdout, /^hi\n\d+\.\d+ \d+\.\d+ \d+\.\d+ \d+\/\d+ \d+\n$/);
  }
});

test('a wrong host key is refused', async () => {
  const [a, b] = fleet.nodes as [FleetNode, FleetNode];
  await assert.rejects(connectTo(b, a), /verification failed/i);
});

test('stop() kills a node and its connections; start() brings it back with the same host key', async () => {
  const node = fleet.nodes[1]!;
  const { hostKeyFingerprint, pid } = node;
  const client = await connectTo(node);
  const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
  await fleet.stop(node.name);
  await closed;
  await assert.rejects(connectTo(node), { code: 'ECONNREFUSED' });

  await fleet.start(node.name);
  assert.notEqual(node.pid, pid);
  assert.equal(node.hostKeyFingerprint, hostKeyFingerprint);
  const again = await connectTo(node); // verified against the unchanged known_hosts
  assert.equal((await exec(again, 'echo back')).stdout, 'back\n');
  again.end();
});

test('nodeCpuSeconds grows with commands run', async () => {
  const node = fleet.nodes[0]!;
  const before = fleet.nodeCpuSeconds(node.name);
  const client = await connectTo(node);
  for (let i = 0; i < 50; i++) await exec(client, 'cat /proc/loadavg');
  // Read while connected: a connection process that has exited but is not reaped yet counts nowhere.
  const used = fleet.nodeCpuSeconds(node.name);
  const total = fleet.nodeCpuSeconds();
  client.end();
  assert.ok(used > before, `${used} > ${before}`);
  assert.ok(total >= used);
});

test('close() leaves no process and no dir behind', async () => {
  const extra = await startFleet({ count: 2 });
  const client = await connectTo(extra.nodes[0]!);
  const pids = extra.nodes.flatMap((n) => processTree(n.pid));
  assert.ok(pids.length > 2, 'the connection has processes of its own');
  await extra.close();
  client.end();
  assert.deepEqual(pids.filter(running), []);
  assert.equal(existsSync(extra.dir), false);
});
