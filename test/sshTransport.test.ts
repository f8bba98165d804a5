/** The SSH transport against real OpenSSH nodes: host key policy, key and agent auth, timeouts. */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SshTransport, type SshOptions } from '../shared/transport/index.js';
import { startFleet, type Fleet } from './harness/sshFleet.js';

let fleet: Fleet;
let dir: string;
const open: SshTransport[] = [];

before(async () => {
  fleet = await startFleet({ count: 2 });
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-ssh-'));
});
after(async () => {
  await Promise.all(open.map((t) => t.close()));
  await fleet.close();
  rmSync(dir, { recursive: true, force: true });
});

function transport(over: Partial<SshOptions> = {}): SshTransport {
  const n = fleet.nodes[0]!;
  const t = new SshTransport({
    host: n.host,
    port: n.port,
    user: n.user,
    privateKeyFile: n.privateKeyFile,
    knownHostsFile: fleet.knownHostsFile,
    acceptNewHostKeys: false,
    connectTimeoutMs: 3000,
    ...over,
  });
  open.push(t);
  return t;
}

describe('ssh transport', () => {
  it('runs commands over one connection, checking the host key against known_hosts', async () => {
    const t = transport();
    const a = await t.exec('echo $PPID', { timeoutMs: 3000 });
    const b = await t.exec('echo "quoted arg: $1"', { timeoutMs: 3000 });
    assert.equal(a.code, 0);
    assert.match(b.stdout, /quoted arg/);
    const c = await t.exec('exit 3', { timeoutMs: 3000 });
    assert.equal(c.code, 3);
  });

  it('refuses an unknown host by default and says how to add it', async () => {
    const empty = join(dir, 'empty_known_hosts');
    writeFileSync(empty, '');
    await assert.rejects(transport({ knownHostsFile: empty }).exec('true', { timeoutMs: 3000 }), (e: Error) => {
      assert.match(e.message, /is not in .*ssh-keyscan/);
      return true;
    });
  });

  it('adds a new host with acceptNewHostKeys, then trusts only that key', async () => {
    const file = join(dir, 'accept_new');
    writeFileSync(file, '');
    await transport({ knownHostsFile: file, acceptNewHostKeys: true }).exec('true', { timeoutMs: 3000 });
    const n = fleet.nodes[0]!;
    assert.match(readFileSync(file, 'utf8'), new RegExp(`^\\[${n.host}\\]:${n.port} ssh-ed25519 `));
    await transport({ knownHostsFile: file }).exec('true', { timeoutMs: 3000 });
  });

  it('refuses a changed host key even with acceptNewHostKeys', async () => {
    const n0 = fleet.nodes[0]!;
    const n1 = fleet.nodes[1]!;
    // known_hosts says node 0's address has node 1's key: a man in the middle, as far as we can tell.
    const otherKey = readFileSync(fleet.knownHostsFile, 'utf8').split('\n').find((l) => l.startsWith(`[${n1.host}]:${n1.port} `))!.split(' ').slice(1).join(' ');
    const file = join(dir, 'changed');
    writeFileSync(file, `[${n0.host}]:${n0.port} ${otherKey}\n`);
    await assert.rejects(transport({ knownHostsFile: file, acceptNewHostKeys: true }).exec('true', { timeoutMs: 3000 }), /HOST KEY CHANGED/);
  });

  it('authenticates through ssh-agent when no key file is given', async () => {
    const sock = join(dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 50; i++) {
        try {
          execFileSync('ssh-add', [fleet.clientKeyFile], { env: { SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      const r = await transport({ privateKeyFile: undefined, agentSocket: sock }).exec('echo agent', { timeoutMs: 3000 });
      assert.equal(r.stdout.trim(), 'agent');
    } finally {
      agent.kill();
    }
  });

  it('cuts off a command at its timeout and reconnects for the next one', async () => {
    const t = transport();
    const t0 = performance.now();
    await assert.rejects(t.exec('sleep 5', { timeoutMs: 500 }), /timed out after 500 ms/);
    assert.ok(performance.now() - t0 < 1500);
    assert.equal((await t.exec('echo back', { timeoutMs: 3000 })).stdout.trim(), 'back');
  });
});
