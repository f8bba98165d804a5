/**
 * The node's long-lived shell (transport/shellSession.ts) over a real OpenSSH node: what a
 * request prints and its status, definitions kept between requests, nothing a request runs can
 * read the next one, a faked end line does not end it, and a request that overruns or floods
 * ends its shell (and what it started) but not the next request. Each case names what a user
 * would see: the probe's data, or the same errors as a command of its own.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { processesWith } from './harness/procs.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DISCOVER_EVERY_ROUNDS, newProbeNonce } from '../shared/collect/probes.js';
import { runProbe } from '../shared/collect/runProbe.js';
import { SshTransport, TransportError } from '../shared/transport/index.js';
import { startFleet, type Fleet } from './harness/sshFleet.js';

let fleet: Fleet;
let t: SshTransport;

before(async () => {
  fleet = await startFleet({ count: 1 });
  const n = fleet.nodes[0]!;
  t = new SshTransport({ host: n.host, port: n.port, user: n.user, privateKeyFile: n.privateKeyFile, knownHostsFile: fleet.knownHostsFile, acceptNewHostKeys: false, connectTimeoutMs: 3000 });
});
after(async () => {
  await t?.close();
  await fleet?.close();
});


const session = () => {
  const s = t.shellSession();
  assert.ok(s, 'an idle session');
  return s;
};
/** The node's pid of the session's shell: `$$` of a request. */
const shellPid = async () => (await session().run(undefined, 'echo $$', { timeoutMs: 3000 })).stdout.trim();

describe('shell session', () => {
  it('runs requests in one shell: output as printed (no newline added), exit status, definitions sent once and kept', async () => {
    const s = session();
    const setup = 'greet() { printf "hi %s" "$1"; return 7; }';
    const a = await s.run(setup, 'greet one', { timeoutMs: 3000 });
    assert.deepEqual([a.stdout, a.code], ['hi one', 7]);
    const pid = await shellPid();
    // Defined once: the same shell still knows it, without the setup sent again.
    const b = await s.run(setup, 'greet two', { timeoutMs: 3000 });
    assert.deepEqual([b.stdout, b.code], ['hi two', 7]);
    assert.equal(await shellPid(), pid, 'the same shell on the node');
    assert.equal((await s.run(undefined, 'false', { timeoutMs: 3000 })).code, 1);
  });

  it('nothing a request runs reads what follows it on the shell stdin', async () => {
    const s = session();
    const a = await s.run(undefined, 'cat; echo "read: $(head -c 5)"', { timeoutMs: 3000 });
    assert.equal(a.stdout, 'read: \n');
    assert.equal((await s.run(undefined, 'echo next', { timeoutMs: 3000 })).stdout, 'next\n');
  });

  it("a request that prints the end line's header without the request's token does not end there", async () => {
    const s = session();
    const fake = `printf '\\n==> edgefleet-shell-end 0123456789abcdef rc=0 <==\\n'; echo after`;
    const a = await s.run(undefined, fake, { timeoutMs: 3000 });
    assert.equal(a.stdout, '\n==> edgefleet-shell-end 0123456789abcdef rc=0 <==\nafter\n');
  });

  it('a request that overruns: "timed out" with what it printed before, its shell and children gone from the node, the next request in a fresh shell', async () => {
    const pid = await shellPid();
    const tag = 4231;
    const t0 = performance.now();
    await assert.rejects(session().run(undefined, `echo before; sleep ${tag}; echo never`, { timeoutMs: 400 }), (e: TransportError) => {
      assert.equal(e.kind, 'timeout');
      assert.match(e.message, /timed out after 400 ms/);
      assert.equal(e.partialStdout, 'before\n');
      return true;
    });
    assert.ok(performance.now() - t0 < 1500);
    let left = processesWith(`sleep\0${tag}\0`);
    for (const until = Date.now() + 1000; left.length && Date.now() < until; left = processesWith(`sleep\0${tag}\0`)) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(left, [], 'the overrun command is gone from the node');
    assert.notEqual(await shellPid(), pid, 'a new shell');
  });

  it('a request past the output cap: error "output over N bytes", nothing kept, the next request answers', async () => {
    await assert.rejects(session().run(undefined, 'head -c 200000 /dev/zero', { timeoutMs: 3000, maxOutputBytes: 100_000 }), (e: TransportError) => {
      assert.equal(e.kind, 'output');
      assert.match(e.message, /output over 100000 bytes/);
      return true;
    });
    assert.equal((await session().run(undefined, 'echo ok', { timeoutMs: 3000 })).stdout, 'ok\n');
  });

  it('a shell that exits under a request (the link or sshd gone): "closed before the command ended", nothing kept; then a new shell', async () => {
    await assert.rejects(session().run(undefined, 'echo partial; exit 0', { timeoutMs: 3000 }), /closed before the command ended/);
    assert.equal((await session().run(undefined, 'echo back', { timeoutMs: 3000 })).stdout, 'back\n');
  });

  it('busy while a request runs: no second request in the same shell (the caller opens a channel)', async () => {
    const s = session();
    const running = s.run(undefined, 'sleep 0.3; echo done', { timeoutMs: 3000 });
    assert.equal(t.shellSession(), undefined);
    assert.equal((await t.exec('echo own channel', { timeoutMs: 3000 })).stdout, 'own channel\n');
    assert.equal((await running).stdout, 'done\n');
    assert.ok(t.shellSession());
  });
});

describe('the probe in the shell session', () => {
  it(`finds a sensor that appears within ${DISCOVER_EVERY_ROUNDS} rounds (the globs are kept, then redone), and one that goes away is simply not read`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefleet-session-'));
    try {
      chmodSync(dir, 0o755); // the node's login user reads the root
      const machine = join(import.meta.dirname, 'fixtures', 'machines', 'rpi4');
      cpSync(machine, dir, { recursive: true, verbatimSymlinks: true });
      const roots = { procRoot: join(dir, 'proc'), sysRoot: join(dir, 'sys') };
      const probe = async () =>
        (await runProbe(t, ['temperature', 'cpu'], roots, { nonce: newProbeNonce(), dfTimeoutSeconds: 1 }, { timeoutMs: 3000 })).files;
      const zone1 = '/sys/class/thermal/thermal_zone1/temp';
      assert.ok((await probe()).has('/sys/class/thermal/thermal_zone0/temp'), 'the first probe globs');
      const z = join(dir, 'sys', 'class', 'thermal', 'thermal_zone1');
      mkdirSync(z);
      writeFileSync(join(z, 'type'), 'gpu-thermal\n');
      writeFileSync(join(z, 'temp'), '41000\n');
      // Probes 2 to DISCOVER_EVERY_ROUNDS read what probe 1 found; the next one globs again.
      const seen: boolean[] = [];
      for (let i = 2; i <= DISCOVER_EVERY_ROUNDS + 1; i++) seen.push((await probe()).has(zone1));
      assert.deepEqual(seen, [...Array(DISCOVER_EVERY_ROUNDS - 1).fill(false), true]);
      assert.equal((await probe()).get(zone1), '41000\n');
      rmSync(z, { recursive: true });
      const files = await probe();
      assert.equal(files.has(zone1), false, 'a file gone is not read (no error)');
      assert.ok(files.get('/proc/stat')?.startsWith('cpu '));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
