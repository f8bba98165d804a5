/**
 * For fault tests, on top of hub.ts: `edgefleet hub` with its JSON log lines parsed as they come
 * and a wait for a given line; fake node roots for the local transport — a proc tree copied from
 * a captured machine with as many network interfaces as a test needs.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep, spawnHub, type HubProcess as SpawnedHub } from './hub.js';
import { freePort } from './ports.js';

const MACHINE = join(import.meta.dirname, '..', 'fixtures', 'machines', 'x86-hub', 'proc');

export interface HubProcess extends SpawnedHub {
  /** Every JSON log line so far. */
  logs: () => Record<string, unknown>[];
}

/**
 * Starts `edgefleet hub -i INVENTORY --db DB --interval N` and waits until GET /health answers
 * (at most `readyMs`), or with `until`, until a log line matches it.
 */
export async function startHub(o: {
  cwd: string;
  inventory: string;
  db: string;
  intervalSeconds: number;
  env?: Record<string, string>;
  readyMs?: number;
  until?: (line: Record<string, unknown>) => boolean;
}): Promise<HubProcess> {
  const spawned = spawnHub({ cwd: o.cwd, port: await freePort(), env: o.env, args: ['-i', o.inventory, '--db', o.db, '--interval', String(o.intervalSeconds)] });
  const hub: HubProcess = {
    ...spawned,
    logs: () =>
      spawned.stderr().split('\n').flatMap((l) => {
        try {
          return l.startsWith('{') ? [JSON.parse(l) as Record<string, unknown>] : [];
        } catch {
          return [];
        }
      }),
  };
  const deadline = Date.now() + (o.readyMs ?? 20_000);
  for (;;) {
    if (hub.child.exitCode !== null) throw new Error(`hub exited with ${hub.child.exitCode}:\n${hub.stderr()}`);
    if (o.until) {
      if (hub.logs().some(o.until)) return hub;
    } else {
      try {
        if ((await fetch(`${hub.base}/health`, { signal: AbortSignal.timeout(1000) })).ok) return hub;
      } catch {
        // not listening yet
      }
    }
    if (Date.now() > deadline) {
      await hub.kill();
      throw new Error(`hub not ready in time:\n${hub.stderr()}`);
    }
    await sleep(o.until ? 5 : 50);
  }
}

/**
 * A node's proc root under `dir`: the x86-hub capture's stat, loadavg and meminfo, and a
 * /proc/net/dev of `interfaces` veths (like a container host). Returns the proc root.
 */
export function makeProcRoot(dir: string, interfaces: number): string {
  const proc = join(dir, 'proc');
  mkdirSync(join(proc, 'net'), { recursive: true });
  for (const f of ['stat', 'loadavg', 'meminfo']) copyFileSync(join(MACHINE, f), join(proc, f));
  const header = readFileSync(join(MACHINE, 'net', 'dev'), 'utf8').split('\n').slice(0, 2);
  const lines = Array.from({ length: interfaces }, (_, i) => `  veth${i}: ${1000 + i} ${10 + i} 0 0 0 0 0 0 ${2000 + i} ${20 + i} 0 0 0 0 0 0`);
  writeFileSync(join(proc, 'net', 'dev'), [...header, ...lines, ''].join('\n'));
  return proc;
}

/** GET a JSON route, with its latency. */
export async function getJson(base: string, path: string, timeoutMs = 5000): Promise<{ status: number; body: Record<string, any>; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(base + path, { signal: AbortSignal.timeout(timeoutMs) });
  const body = (await res.json()) as Record<string, any>;
  return { status: res.status, body, ms: performance.now() - t0 };
}
