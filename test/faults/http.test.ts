/**
 * Hostile and broken requests against a real `edgefleet hub` collecting two real sshd nodes every
 * second: each one is answered (or its socket closed) on its own, and the hub goes on collecting.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startHub, sleep, writeFleetInventory, type HubProcess } from '../harness/hub.js';
import { freePort } from '../harness/ports.js';
import { rawRequest } from '../harness/rawHttp.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startFleet, type Fleet } from '../harness/sshFleet.js';

let dir: string;
let fleet: Fleet;
let hub: HubProcess;
const dbFile = () => join(dir, 'hub.db');

/** Rounds the hub has stored so far (collector_runs rows, one per node and kind). */
function storedRuns(): number {
  const db = new Database(dbFile(), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM collector_runs').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** The hub is alive, answers /health, and stores another round within 5 s. */
async function assertStillCollecting(runsBefore: number): Promise<void> {
  assert.equal(hub.child.exitCode, null, `hub exited:\n${hub.stderr()}`);
  const health = await fetch(`${hub.base}/health`, { signal: AbortSignal.timeout(3000) });
  assert.equal(health.status, 200);
  const deadline = Date.now() + 5000;
  while (storedRuns() <= runsBefore) {
    assert.ok(Date.now() < deadline, 'no round stored within 5 s after the fault');
    await sleep(100);
  }
  assert.doesNotMatch(hub.stderr(), /BUG:/);
}

/** The hub's peak resident memory so far (VmHWM), in MiB. */
const peakMiB = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${hub.child.pid}/status`, 'utf8'))![1]) / 1024;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-faults-http-'));
  chmodSync(dir, 0o755);
  fleet = await startFleet({ count: 2 });
  const inventory = writeFleetInventory(dir, fleet);
  hub = await startHub({
    cwd: dir,
    port: await freePort(),
    env: { EDGEFLEET_INVENTORY: inventory, EDGEFLEET_DB: dbFile(), EDGEFLEET_SSH_KNOWN_HOSTS_FILE: fleet.knownHostsFile, EDGEFLEET_HUB_INTERVAL_SECONDS: '1', EDGEFLEET_LOG_LEVEL: 'info' },
  });
  const deadline = Date.now() + 10_000;
  while (storedRuns() === 0) {
    assert.ok(Date.now() < deadline, `no first round:\n${hub.stderr()}`);
    await sleep(100);
  }
});

after(async () => {
  await hub?.kill();
  await fleet?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('fault: hostile requests to the hub', () => {
  it('an aborted body (Content-Length: 1000, 10 bytes sent, socket closed): that socket just closes; the hub keeps collecting, nothing stored from the request', async () => {
    const runs = storedRuns();
    for (const path of ['/inference', '/deployments']) {
      const r = await rawRequest(hub.port, `POST ${path} HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":12345`, { abort: true });
      assert.equal(r.status, undefined);
    }
    await assertStillCollecting(runs);
    const db = new Database(dbFile(), { readonly: true });
    try {
      assert.equal((db.prepare('SELECT COUNT(*) AS n FROM deployments').get() as { n: number }).n, 0);
    } finally {
      db.close();
    }
  });

  it('a request target that is no URL (GET http://[ HTTP/1.1): 400 "not a valid URL" for that request; the hub keeps collecting', async () => {
    const runs = storedRuns();
    const r = await rawRequest(hub.port, 'GET http://[ HTTP/1.1\r\nHost: hub\r\n\r\n');
    assert.equal(r.status, 400, r.text);
    assert.match(r.text, /not a valid URL/);
    await assertStillCollecting(runs);
  });

  it('an absolute URL with port 99999 (GET http://a:99999/ HTTP/1.1): 400 for that request; the hub keeps collecting', async () => {
    const runs = storedRuns();
    const r = await rawRequest(hub.port, 'GET http://a:99999/ HTTP/1.1\r\nHost: hub\r\n\r\n');
    assert.equal(r.status, 400, r.text);
    await assertStillCollecting(runs);
  });

  it('bytes that are not HTTP (a TLS ClientHello, NULs, a bad header): 400 on that socket; the hub keeps collecting', async () => {
    const runs = storedRuns();
    const tls = Buffer.from('16030100f5010000f10303' + '00'.repeat(40), 'hex');
    for (const bytes of [tls, Buffer.from('\x00\x00\x00\x00\r\n\r\n', 'latin1'), 'GET /nodes HTTP/1.1\r\nHo st: x\r\n\r\n']) {
      const r = await rawRequest(hub.port, bytes);
      assert.equal(r.status, 400, JSON.stringify(r.text));
    }
    await assertStillCollecting(runs);
  });

  it('a body over 1 MiB: 413 "request body too large", nothing stored; the hub keeps collecting', async () => {
    const runs = storedRuns();
    const res = await fetch(`${hub.base}/inference`, { method: 'POST', body: 'x'.repeat(2 << 20), signal: AbortSignal.timeout(5000) }).catch((e: Error) => e);
    // The hub answers 413 and closes; a client still sending may see the reset instead.
    if (!(res instanceof Error)) assert.equal(res.status, 413);
    await assertStillCollecting(runs);
  });

  it('bad percent-encoding and unknown routes (/models/%E0%A4%A, /nope): 400 and 404 with the reason; the hub keeps collecting', async () => {
    const runs = storedRuns();
    const bad = await fetch(`${hub.base}/models/%E0%A4%A`, { signal: AbortSignal.timeout(3000) });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /percent-encoding/);
    const none = await fetch(`${hub.base}/nope`, { signal: AbortSignal.timeout(3000) });
    assert.equal(none.status, 404);
    await assertStillCollecting(runs);
  });

  it('fifty requests aborted at once mid-body, then fifty 1 MiB bodies: every socket closed or 413, the hub answers the next request at once, its peak memory stays under 400 MiB, and it keeps collecting', async () => {
    const runs = storedRuns();
    const peakBefore = peakMiB();
    await Promise.all(Array.from({ length: 50 }, () => rawRequest(hub.port, `POST /inference HTTP/1.1\r\nHost: hub\r\nContent-Length: 1000\r\n\r\n0123456789`, { abort: true })));
    const t0 = performance.now();
    assert.equal((await fetch(`${hub.base}/health`, { signal: AbortSignal.timeout(3000) })).status, 200);
    assert.ok(performance.now() - t0 < 1000);
    const mib = 'x'.repeat(1 << 20);
    await Promise.all(Array.from({ length: 50 }, () => rawRequest(hub.port, `POST /inference HTTP/1.1\r\nHost: hub\r\nContent-Length: ${(1 << 20) + 1}\r\n\r\n${mib}x`, { timeoutMs: 10_000 })));
    const peak = peakMiB();
    process.stdout.write(`# hub peak memory: ${peakBefore.toFixed(0)} MiB before, ${peak.toFixed(0)} MiB after 50 aborted and 50 oversized bodies\n`);
    assert.ok(peak < 400, `peak ${peak} MiB`);
    await assertStillCollecting(runs);
  });
});

describe('fault: a stray rejection in the hub process', () => {
  it('a promise rejected with no handler: logged at error as "BUG: unhandled promise rejection" with its stack, and the process goes on (exit 0)', async () => {
    // The hub's own guard, in a process of its own: nothing in the hub can be made to reject on purpose.
    const script = `
      const { guardProcess } = await import('./cli/hub.ts');
      const { jsonLogger } = await import('./shared/handler/logger.ts');
      guardProcess(jsonLogger({ fn: 'hub' }));
      Promise.reject(new Error('stray rejection from a test'));
      setTimeout(() => process.stdout.write('still running\\n'), 200);`;
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: join(import.meta.dirname, '..', '..'), timeout: 20_000 });
    assert.equal(stdout, 'still running\n');
    const entry = JSON.parse(stderr.trim().split('\n').find((l) => l.includes('BUG'))!);
    assert.equal(entry.level, 'error');
    assert.match(entry.msg, /^BUG: unhandled promise rejection/);
    assert.equal(entry.error, 'stray rejection from a test');
    assert.match(entry.stack, /at /);
  });
});
