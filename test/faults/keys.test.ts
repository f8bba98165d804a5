/**
 * A hub listening beyond loopback (hub.host 0.0.0.0): every read needs a key, read-only keys
 * read but never change, /health tells a probe only its status. Real hub processes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../harness/cli.js';
import { startHubs, type HubProcess } from '../harness/hub.js';
import { freePort } from '../harness/ports.js';

const LOCAL_INVENTORY = join(import.meta.dirname, '..', 'fixtures', 'cli', 'local.ini');
const READ_KEY = 'read-only-key-for-grafana-0001';
const WRITE_KEY = 'write-key-for-deployments-0002';

let dir: string;
let open: HubProcess;
let keyed: HubProcess;
let proxied: HubProcess;
const env = (name: string, extra: Record<string, string> = {}) => ({
  EDGEFLEET_INVENTORY: LOCAL_INVENTORY,
  EDGEFLEET_DB: join(dir, `${name}.db`),
  EDGEFLEET_HUB_HOST: '0.0.0.0',
  EDGEFLEET_HUB_INTERVAL_SECONDS: '60',
  ...extra,
});
const get = async (hub: HubProcess, path: string, key?: string) => {
  const res = await fetch(hub.base + path, { headers: key ? { authorization: `Bearer ${key}` } : {}, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-faults-keys-'));
  [open, keyed, proxied] = await startHubs([
    { cwd: dir, port: await freePort(), env: env('open') },
    { cwd: dir, port: await freePort(), env: env('keyed', { EDGEFLEET_API_READ_KEY: READ_KEY, EDGEFLEET_API_KEY: WRITE_KEY }) },
    // On loopback, behind a reverse proxy on the same host.
    { cwd: dir, port: await freePort(), env: env('proxied', { EDGEFLEET_HUB_HOST: '127.0.0.1', EDGEFLEET_API_OPEN_ON_LOOPBACK: 'false', EDGEFLEET_API_READ_KEY: READ_KEY }) },
  ]) as [HubProcess, HubProcess, HubProcess];
});
after(async () => {
  await Promise.all([open?.kill(), keyed?.kill(), proxied?.kill()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('fault: reads from beyond loopback', () => {
  it('hub.host 0.0.0.0 and no key configured: GET /nodes, /anomalies, /models, /metrics answer 403 naming api.readKeys; /health answers only {"status":"ok"}; the hub warns at start', async () => {
    for (const path of ['/nodes', '/anomalies', '/models', '/inference/stats', '/metrics']) {
      const r = await get(open, path);
      assert.equal(r.status, 403, path);
      assert.match(r.body.error, /api\.readKeys/);
    }
    assert.deepEqual((await get(open, '/health')).body, { status: 'ok' });
    assert.match(open.stderr(), /the hub listens beyond loopback.*no API key is configured/);
  });

  it('with api.readKeys and api.keys: no key or a wrong one gets 401; the read key reads /nodes, /health in full and GET /deployments, and gets 403 "may only read" on POST; the write key passes', async () => {
    assert.equal((await get(keyed, '/nodes')).status, 401);
    assert.equal((await get(keyed, '/nodes', 'not-the-key-at-all-xxxxxxxx')).status, 401);
    const nodes = await get(keyed, '/nodes', READ_KEY);
    assert.equal(nodes.status, 200);
    assert.ok(Array.isArray(nodes.body.nodes));
    assert.equal(typeof (await get(keyed, '/health', READ_KEY)).body.schemaVersion, 'number');
    assert.equal((await get(keyed, '/deployments', READ_KEY)).status, 200);
    const post = (key: string) => fetch(`${keyed.base}/deployments`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(5000) });
    const ro = await post(READ_KEY);
    assert.equal(ro.status, 403);
    assert.match(((await ro.json()) as { error: string }).error, /may only read/);
    // Past the key check: the empty request itself is refused.
    assert.equal((await post(WRITE_KEY)).status, 400);
    assert.ok(!keyed.stderr().includes(READ_KEY) && !keyed.stderr().includes(WRITE_KEY), 'a key was logged');
  });

  it('on loopback with api.openOnLoopback false (a reverse proxy on the same host): GET /nodes without a key gets 401, with the read key 200', async () => {
    assert.equal((await get(proxied, '/nodes')).status, 401);
    assert.equal((await get(proxied, '/nodes', READ_KEY)).status, 200);
  });

  it('EDGEFLEET_API_KEY shorter than 16 characters: the hub refuses to start (exit 1) naming the variable, not the key', async () => {
    const r = await runCli(['hub', '--port', String(await freePort())], { cwd: dir, env: env('short', { EDGEFLEET_API_KEY: 'tiny-key-9' }), timeoutMs: 15_000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /EDGEFLEET_API_KEY" is too short \(at least 16 characters\)/);
    assert.ok(!r.stderr.includes('tiny-key-9'));
  });
});
