/**
 * `edgefleet hub` as a service manager runs it: a child process collecting a local node every
 * second and serving GET /nodes and GET /health, stopped by SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from './harness/ports.js';
import Database from 'better-sqlite3';

const BIN = join(import.meta.dirname, '..', 'bin', 'edgefleet.js');
const LOCAL_INVENTORY = join(import.meta.dirname, 'fixtures', 'cli', 'local.ini');
const LOCAL_NODE = 'hub-local';

interface Hub {
  child: ChildProcess;
  stderr: () => string;
  /** Resolves with the exit code (or the signal) once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startHub(args: string[], cwd: string): Hub {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('EDGEFLEET_')));
  const child = spawn(process.execPath, [BIN, 'hub', ...args], { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, stderr: () => stderr, exited };
}

/** Bound any wait: a hub that hangs fails the test rather than CI. */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

const get = async (base: string, path: string) => {
  const res = await fetch(base + path, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-hub-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('edgefleet hub', () => {
  let hub: Hub;
  let base: string;
  const db = () => join(dir, 'hub.db');

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    hub = startHub(['-i', LOCAL_INVENTORY, '--db', db(), '--port', String(port), '--interval', '1'], dir);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (hub.child.exitCode !== null) throw new Error(`hub exited with ${hub.child.exitCode}:\n${hub.stderr()}`);
      try {
        if ((await fetch(`${base}/health`, { signal: AbortSignal.timeout(1000) })).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`hub did not answer /health within 15 s:\n${hub.stderr()}`);
      await sleep(100);
    }
  });

  after(async () => {
    if (hub.child.exitCode === null && hub.child.signalCode === null) {
      hub.child.kill('SIGKILL');
      await within(5000, hub.exited, 'hub SIGKILL');
    }
  });

  it('collects on its schedule: health has the last collection, /nodes the node up with readings', async () => {
    await sleep(2500);
    const health = await get(base, '/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'ok');
    assert.equal(typeof health.body.lastCollectionUnixSeconds, 'number', JSON.stringify(health.body));
    assert.ok(Math.abs(health.body.lastCollectionUnixSeconds - Date.now() / 1000) < 10);
    assert.deepEqual(health.body.nodes, { up: 1 });

    const nodes = await get(base, '/nodes');
    assert.equal(nodes.status, 200);
    assert.equal(nodes.body.nodes.length, 1);
    const node = nodes.body.nodes[0];
    assert.equal(node.name, LOCAL_NODE);
    assert.equal(node.status, 'up');
    assert.ok(node.latest, 'no latest readings');
    assert.equal(typeof node.latest.memoryUsedPercent, 'number');
    assert.equal(typeof node.latest.load1, 'number');
    // Several rounds a second apart: CPU usage (a delta between two rounds) is there too.
    assert.equal(typeof node.latest.cpuUsagePercent, 'number', JSON.stringify(node.latest));

    assert.deepEqual((await get(base, '/nodes?status=up')).body.nodes.map((n: { name: string }) => n.name), [LOCAL_NODE]);
  });

  it('answers bad queries with 400 and an error message, unknown paths with 404', async () => {
    const bogus = await get(base, '/nodes?status=bogus');
    assert.equal(bogus.status, 400);
    assert.match(bogus.body.error, /status must be one of/);
    const unknown = await get(base, '/nodes?x=1');
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error, /unknown query parameter "x"/);
    const nope = await get(base, '/nope');
    assert.equal(nope.status, 404);
    assert.equal(typeof nope.body.error, 'string');
  });

  it('SIGTERM: exits 0 within 5 s and leaves a sound database', async () => {
    hub.child.kill('SIGTERM');
    const { code, signal } = await within(5000, hub.exited, 'hub exit after SIGTERM');
    assert.equal(signal, null, hub.stderr());
    assert.equal(code, 0, hub.stderr());
    assert.match(hub.stderr(), /"msg":"stopped"/);
    const check = new Database(db(), { readonly: true, fileMustExist: true });
    try {
      assert.equal(check.pragma('integrity_check', { simple: true }), 'ok');
      assert.ok((check.prepare('SELECT COUNT(*) AS n FROM collector_runs').get() as { n: number }).n >= 2);
    } finally {
      check.close();
    }
  });
});

describe('edgefleet hub on a port in use', () => {
  it('exits 1 with the error instead of running on without its HTTP routes', async () => {
    const taken = createServer();
    const port = await listen(taken);
    try {
      const hub = startHub(['-i', LOCAL_INVENTORY, '--db', join(dir, 'busy.db'), '--port', String(port), '--interval', '1'], dir);
      try {
        const { code } = await within(10_000, hub.exited, 'hub exit on EADDRINUSE');
        assert.equal(code, 1, hub.stderr());
        assert.match(hub.stderr(), /EADDRINUSE/);
      } finally {
        if (hub.child.exitCode === null && hub.child.signalCode === null) hub.child.kill('SIGKILL');
      }
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
