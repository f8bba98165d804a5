/**
 * bench:http — GET /nodes at 50 concurrent keep-alive clients against a real `edgefleet hub`
 * collecting a fleet of real sshd nodes, first the fleet alone, then with one huge-output node
 * added (a proc file of BENCH_HUGE_MB, sparse, read by the probe every round). The anchor, a bare
 * node:http server answering a body of the same size, is measured in each run on the same
 * machine; the ratio hub/anchor is what to compare across machines. Medians of BENCH_RUNS runs.
 *
 *   npm run bench:http                                  # 10 nodes, 5 runs of 3 s, huge node 100 MB
 *   BENCH_NODES=50 BENCH_HUGE_MB=600 npm run bench:http
 *   BENCH_HUGE_MB=0 npm run bench:http                  # the fleet alone
 */
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHub, sleep, writeFleetInventory, type HubProcess } from '../test/harness/hub.js';
import { freePort } from '../test/harness/ports.js';
import { startFleet } from '../test/harness/sshFleet.js';

const NODES = Number(process.env.BENCH_NODES ?? 10);
const HUGE_MB = Number(process.env.BENCH_HUGE_MB ?? 100);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 50);
const INTERVAL_SECONDS = Number(process.env.BENCH_INTERVAL_SECONDS ?? 2);
const FIXTURE_PROC = join(import.meta.dirname, '..', 'test', 'fixtures', 'machines', 'x86-hub', 'proc');

interface Load {
  reqPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

/** `clients` loops, each sending GET `path` back to back over keep-alive for `seconds`. */
async function load(port: number, path: string, seconds: number, clients: number): Promise<Load> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = request({ host: '127.0.0.1', port, path, agent, timeout: 10_000 }, (res) => {
        res.on('data', () => {});
        res.on('end', () => {
          if (res.statusCode === 200) latencies.push(performance.now() - t0);
          else errors++;
          resolve();
        });
      });
      req.on('error', () => (errors++, resolve()));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (performance.now() < end) await one();
  }));
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { reqPerSecond: latencies.length / elapsed, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), errors };
}

/** The anchor: a bare node:http server in its own process answering `bytes` bytes of JSON. */
async function startAnchor(bytes: number): Promise<{ port: number; stop: () => void }> {
  const port = await freePort();
  const src = `const b=Buffer.from(JSON.stringify({pad:'x'.repeat(Math.max(0,${bytes}-10))}));require('node:http').createServer((q,r)=>r.writeHead(200,{'content-type':'application/json','content-length':b.length}).end(b)).listen(${port},'127.0.0.1',()=>process.stdout.write('ready\\n'))`;
  const child = spawn(process.execPath, ['-e', src], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return { port, stop: () => child.kill('SIGKILL') };
}

async function phase(name: string, hub: HubProcess): Promise<{ hub: Load; anchor: Load; bodyBytes: number }> {
  // Wait for a round to have landed, so /nodes carries readings.
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${hub.base}/health`).then((x) => x.json() as Promise<{ lastCollectionUnixSeconds: number | null }>);
    if (r.lastCollectionUnixSeconds) break;
    await sleep(200);
  }
  const bodyBytes = (await (await fetch(`${hub.base}/nodes`)).text()).length;
  const anchor = await startAnchor(bodyBytes);
  const hubRuns: Load[] = [];
  const anchorRuns: Load[] = [];
  try {
    // Warm-up: JIT, the SQLite page cache and keep-alive sockets, as on a hub that has been serving.
    await load(anchor.port, '/nodes', 1, CLIENTS);
    await load(hub.port, '/nodes', 1, CLIENTS);
    for (let i = 0; i < RUNS; i++) {
      anchorRuns.push(await load(anchor.port, '/nodes', SECONDS, CLIENTS));
      hubRuns.push(await load(hub.port, '/nodes', SECONDS, CLIENTS));
      if (hub.child.exitCode !== null) throw new Error(`${name}: the hub exited (${hub.child.exitCode}):\n${hub.stderr().slice(-2000)}`);
    }
  } finally {
    anchor.stop();
  }
  const med = (runs: Load[]): Load => ({
    reqPerSecond: median(runs.map((r) => r.reqPerSecond)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
  });
  return { hub: med(hubRuns), anchor: med(anchorRuns), bodyBytes };
}

const fmt = (l: Load) => `${l.reqPerSecond.toFixed(0)} req/s p50=${l.p50Ms.toFixed(1)}ms p99=${l.p99Ms.toFixed(1)}ms errors=${l.errors}`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-http-'));
  chmodSync(dir, 0o755);
  const fleet = await startFleet({ count: NODES + (HUGE_MB > 0 ? 1 : 0) });
  const results: string[] = [];
  try {
    // The huge node reads a copy of a real machine's /proc whose loadavg is a sparse HUGE_MB file.
    const hugeRoot = join(dir, 'huge');
    cpSync(FIXTURE_PROC, join(hugeRoot, 'proc'), { recursive: true });
    chmodSync(dir, 0o755);
    truncateSync(join(hugeRoot, 'proc', 'loadavg'), HUGE_MB * 1024 * 1024);
    const env = (inventory: string, db: string) => ({
      EDGEFLEET_INVENTORY: inventory,
      EDGEFLEET_DB: db,
      EDGEFLEET_SSH_KNOWN_HOSTS_FILE: fleet.knownHostsFile,
      EDGEFLEET_HUB_INTERVAL_SECONDS: String(INTERVAL_SECONDS),
      EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS: '30',
      EDGEFLEET_LOG_LEVEL: 'error',
    });
    const phases: [string, boolean][] = [['fleet', false]];
    if (HUGE_MB > 0) phases.push([`fleet+huge(${HUGE_MB}MB)`, true]);
    for (const [name, withHuge] of phases) {
      const f = withHuge ? fleet : { ...fleet, nodes: fleet.nodes.slice(0, NODES) };
      const inventory = writeFleetInventory(join(dir), f, [], (i) => (i === NODES ? ` edgefleet_proc_root=${hugeRoot}/proc` : ''));
      const hub = await startHub({ cwd: dir, port: await freePort(), env: env(inventory, join(dir, `${withHuge ? 'huge' : 'fleet'}.db`)), timeoutMs: 60_000 });
      try {
        const r = await phase(name, hub);
        const line = `bench:http ${name} nodes=${f.nodes.length} clients=${CLIENTS} GET /nodes (${r.bodyBytes} B): ${fmt(r.hub)} | anchor bare http: ${fmt(r.anchor)} | ratio=${(r.hub.reqPerSecond / r.anchor.reqPerSecond).toFixed(3)}`;
        process.stdout.write(line + '\n');
        results.push(line);
      } catch (e) {
        const line = `bench:http ${name}: ${(e as Error).message}`;
        process.stdout.write(line + '\n');
        results.push(line);
      } finally {
        await hub.kill();
      }
    }
  } finally {
    await fleet.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
