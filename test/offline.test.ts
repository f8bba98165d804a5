/**
 * The built handlers under `serverless offline start`, as AWS would run them: collectAll through
 * the Lambda invoke API, GET /nodes and GET /health through the HTTP API. Builds dist/ first.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from './harness/ports.js';

const ROOT = join(import.meta.dirname, '..');
const LOCAL_INVENTORY = join(import.meta.dirname, 'fixtures', 'cli', 'local.ini');
const LOCAL_NODE = 'hub-local';
const READ_KEY = 'offline-read-key-000000001';
const BUILD_TIMEOUT_MS = 120_000;
// The build (contrib/serverless-build.cjs) is part of the start.
const READY_TIMEOUT_MS = 90_000 + BUILD_TIMEOUT_MS;

/** Is any process of the group still there? */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM the whole process group, SIGKILL what is left after 5 s; resolves once the group is empty. */
async function killGroup(pgid: number): Promise<void> {
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pgid, s);
    } catch {
      // gone already
    }
  };
  signal('SIGTERM');
  for (const deadline = Date.now() + 5000; groupAlive(pgid) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
  signal('SIGKILL');
  for (const deadline = Date.now() + 5000; groupAlive(pgid) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
}

describe('serverless offline', { timeout: BUILD_TIMEOUT_MS + READY_TIMEOUT_MS + 60_000 }, () => {
  let dir: string;
  let sls: ChildProcess | undefined;
  let output = '';
  let httpBase: string;
  let lambdaBase: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-offline-'));
    // serverless.yml points at dist/; without it every route answered "Cannot find module". No
    // build here: the project's plugin (contrib/serverless-build.cjs) must build it at start.
    rmSync(join(ROOT, 'dist'), { recursive: true, force: true });

    const [httpPort, lambdaPort, websocketPort] = [await freePort(), await freePort(), await freePort()];
    httpBase = `http://127.0.0.1:${httpPort}`;
    lambdaBase = `http://127.0.0.1:${lambdaPort}`;
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('EDGEFLEET_')));
    sls = spawn(
      process.execPath,
      [join(ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js'), 'offline', 'start', '--lambdaPort', String(lambdaPort), '--websocketPort', String(websocketPort)],
      {
        cwd: ROOT,
        detached: true, // its own process group, killed whole in after()
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...env,
          EDGEFLEET_DB: join(dir, 'offline.db'),
          EDGEFLEET_INVENTORY: LOCAL_INVENTORY,
          EDGEFLEET_HUB_PORT: String(httpPort),
          // Under serverless every read needs a key (only the hub on loopback serves reads without one).
          EDGEFLEET_API_READ_KEY: READ_KEY,
          SLS_TELEMETRY_DISABLED: '1',
          SLS_NOTIFICATIONS_MODE: 'off',
        },
      },
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "Server ready" within ${READY_TIMEOUT_MS} ms:\n${output}`)), READY_TIMEOUT_MS);
      const onData = (d: string) => {
        output += d;
        if (output.includes('Server ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      sls!.stdout!.setEncoding('utf8').on('data', onData);
      sls!.stderr!.setEncoding('utf8').on('data', onData);
      sls!.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`serverless exited with ${code} before it was ready:\n${output}`));
      });
    });
  });

  it('started without dist/: the plugin built it first', () => {
    assert.match(output, /edgefleet: building dist\/ \(npm run build\) before the handlers are loaded/);
  });

  after(async () => {
    if (sls?.pid) {
      await killGroup(sls.pid);
      assert.ok(!groupAlive(sls.pid), `serverless offline's process group ${sls.pid} outlived SIGKILL`);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const fetchJson = async (url: string, init?: RequestInit) => {
    const res = await fetch(url, { headers: { 'x-api-key': READ_KEY }, ...init, signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as Record<string, any>, text };
  };

  it('collectAll through the Lambda invoke API collects the local node', async () => {
    const r = await fetchJson(`${lambdaBase}/2015-03-31/functions/edgefleet-dev-collectAll/invocations`, { method: 'POST', body: '{}' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.nodes, 1, r.text);
    assert.equal(r.body.ok, 1, r.text);
    assert.equal(r.body.perNode[0].node, LOCAL_NODE);
    assert.equal(r.body.perNode[0].status, 'up');
  });

  it('GET /nodes without a key is a 401, as every read under serverless', async () => {
    const r = await fetchJson(`${httpBase}/nodes`, { headers: {} });
    assert.equal(r.status, 401, r.text);
    assert.match(r.body.error, /API key is needed/);
  });

  it('GET /nodes lists the node up, with its latest readings', async () => {
    const r = await fetchJson(`${httpBase}/nodes`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.nodes.map((n: { name: string }) => n.name), [LOCAL_NODE]);
    assert.equal(r.body.nodes[0].status, 'up');
    assert.equal(typeof r.body.nodes[0].latest?.memoryUsedPercent, 'number', r.text);
  });

  it('GET /health is ok with the last collection', async () => {
    const r = await fetchJson(`${httpBase}/health`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.status, 'ok');
    assert.deepEqual(r.body.nodes, { up: 1 });
    assert.equal(typeof r.body.lastCollectionUnixSeconds, 'number');
  });

  it('GET /nodes?status=bogus is a 400 with the message, as under the hub', async () => {
    const r = await fetchJson(`${httpBase}/nodes?status=bogus`);
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.error, /status must be one of/);
  });
});
