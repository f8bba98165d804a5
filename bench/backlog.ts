/**
 * `npm run bench:backlog`: an inference backlog drained as the hub drains it after downtime.
 * Real parts, as in test/inferenceBacklog.test.ts: Debian's docker-registry, an OpenSSH node, a
 * Podman API service reached by SSH stream-local forwarding. The model's container writes
 * BACKLOG_LINES protocol lines (varied latency, label, input id; busybox awk) and then idles;
 * none of it has been read (the cursor is behind all of it). One collectInference round then
 * reads it through the engine API in windows and stores every line.
 *
 * Anchor, in the same run: the same log streamed through the same SSH tunnel and counted, with no
 * parsing and no store (what the engine and the tunnel alone cost). Ratio = drain lines/s ÷ anchor
 * lines/s (1: the drain as fast as streaming alone).
 * peak_rss_mb is this process's maximum resident set (getrusage) after the drain: the collector
 * holds one window at a time, so it stays flat whatever the backlog.
 * Last line: `bench:backlog lines=<n> drain_s=<s> peak_rss_mb=<n> lines_per_s=<n> anchor_s=<s>
 * anchor_lines_per_s=<n> ratio=<drain lines/s ÷ anchor lines/s> drain_cpu_s=<s> anchor_cpu_s=<s> store=<kind>` (the
 * CPU seconds of this process alone: a machine shared with other work stretches the wall times,
 * hardly these; on PostgreSQL the server's own CPU is not in drain_cpu_s). BACKLOG_WINDOW_BYTES:
 * commit every so many bytes instead of LOG_WINDOW's. BACKLOG_STORE=postgres: into PostgreSQL.
 */
import { inventoryNodes } from '../shared/collect/collection.js';
import { collectInference, LOG_WINDOW } from '../shared/collect/inference.js';
import { createDeployment, parseDeployRequest, runDeployment } from '../shared/deploy/index.js';
import { silentLogger } from '../shared/domain/index.js';
import { Engine } from '../shared/engine/index.js';
import { openDb, sqliteStore, type Store } from '../shared/store/index.js';
import { TransportPool } from '../shared/transport/pool.js';
import { startModelLab } from '../test/harness/modelLab.js';
import { pushModelImage } from '../test/harness/podman.js';
import { startPostgres, type TestPostgres } from '../test/harness/postgres.js';

const LINES = Number(process.env.BACKLOG_LINES ?? 1_000_000);
/** BACKLOG_STORE=postgres: drained into a real PostgreSQL 15 started here (test/harness/postgres.ts) instead of the SQLite file. */
const ON_PG = process.env.BACKLOG_STORE === 'postgres';
const WINDOW = { ...LOG_WINDOW, bytes: Number(process.env.BACKLOG_WINDOW_BYTES ?? LOG_WINDOW.bytes) };
const SCRIPT = [
  `awk 'BEGIN { split("setosa versicolor virginica", l, " "); for (i = 0; i < ${LINES}; i++) printf "{\\"latency_ms\\":%d.%02d,\\"input_id\\":\\"iris-%d\\",\\"label\\":\\"%s\\",\\"expected\\":\\"%s\\",\\"score\\":0.%03d}\\n", i % 97, i % 100, i % 150, l[i % 3 + 1], l[(i * 7) % 3 + 1], i % 1000 }'`,
  'echo backlog written',
  'trap "exit 0" TERM; sleep 3600 & wait',
].join('\n');

const lab = await startModelLab('edgefleet-bench-backlog-');
let cluster: TestPostgres | undefined;
try {
  const { config } = lab;
  const inventory = inventoryNodes(config);
  let store: Store;
  if (ON_PG) {
    cluster = await startPostgres();
    store = await (await import('../shared/store/pgStore.js')).openPgStore(cluster.url);
  } else store = sqliteStore(openDb(config.db));
  const db = store.sql;
  const pool = new TransportPool({ knownHostsFile: config.ssh.knownHostsFile, acceptNewHostKeys: false, privateKeyFile: '', agentSocket: '', user: 'root', connectTimeoutMs: 5000 });
  await store.syncNodes(inventory, Math.floor(Date.now() / 1000));
  await pushModelImage(lab.registry.push, 'bench/backlog', 'v1', { entrypoint: ['sh', '-c', SCRIPT] });
  const d = await createDeployment({ db, config, inventory }, parseDeployRequest({ image: 'bench/backlog:v1', nodes: [inventory[0]!.name], options: { graceSeconds: 0 } }, { registries: ['lab'] }));
  const s = await runDeployment({ db, config, pool, log: silentLogger, inventory }, d.id);
  if (s.status !== 'succeeded') throw new Error(`deploy: ${JSON.stringify(s.nodes)}`);
  const id = s.nodes[0]!.containerId!;
  const engine = new Engine(pool.get(inventory[0]!), lab.engine.socketPath);
  const t0 = performance.now();
  while (!(await engine.logsTail(id, 1)).includes('backlog written')) {
    if (performance.now() - t0 > 600_000) throw new Error('the container did not finish writing its log');
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(`container ${id.slice(0, 12)} wrote ${LINES} lines in ${((performance.now() - t0) / 1000).toFixed(1)} s (after the deploy)`);

  const rss0 = process.resourceUsage().maxRSS / 1024;
  // This process's CPU seconds (user + system): what it costs whatever else the machine runs.
  const cpuS = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  let cpu = cpuS();
  let t = performance.now();
  const sum = await collectInference({ db: store, config, pool, log: silentLogger, inventory, window: WINDOW });
  const drainS = (performance.now() - t) / 1000;
  const drainCpuS = cpuS() - cpu;
  const peakMb = process.resourceUsage().maxRSS / 1024;
  if (sum.failed.length) throw new Error(`collect: ${JSON.stringify(sum.failed)}`);
  const stored = (await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM inference'))!.n;
  if (stored !== LINES) throw new Error(`stored ${stored} of ${LINES} lines`);

  // Anchor: the same answer through the same tunnel, only counted.
  cpu = cpuS();
  t = performance.now();
  let bytes = 0;
  for await (const chunk of engine.logStream(id, { sinceUnixSeconds: 0 })) bytes += chunk.length;
  const anchorS = (performance.now() - t) / 1000;
  const anchorCpuS = cpuS() - cpu;

  const linesPerS = stored / drainS;
  const anchorLinesPerS = LINES / anchorS;
  console.log(`drain: ${stored} inferences in ${drainS.toFixed(2)} s = ${Math.round(linesPerS)} lines/s, ${drainCpuS.toFixed(2)} s of this process's CPU (windows of ${WINDOW.bytes} bytes; rss before ${rss0.toFixed(0)} MB, peak ${peakMb.toFixed(0)} MB)`);
  console.log(`anchor (stream ${(bytes / 1e6).toFixed(1)} MB of log, no parse, no store): ${anchorS.toFixed(2)} s = ${Math.round(anchorLinesPerS)} lines/s, ${anchorCpuS.toFixed(2)} s of CPU`);
  await pool.closeAll();
  await store.close();
  console.log(
    `bench:backlog lines=${stored} drain_s=${drainS.toFixed(2)} peak_rss_mb=${Math.round(peakMb)} lines_per_s=${Math.round(linesPerS)} anchor_s=${anchorS.toFixed(2)} anchor_lines_per_s=${Math.round(anchorLinesPerS)} ratio=${(linesPerS / anchorLinesPerS).toFixed(2)} drain_cpu_s=${drainCpuS.toFixed(2)} anchor_cpu_s=${anchorCpuS.toFixed(2)} store=${store.kind}`,
  );
} finally {
  await lab.close();
  await cluster?.close();
}
