/**
 * bench:faults — what a misbehaving node costs the hub, with the default caps and timeouts:
 * real sshd nodes (test/harness/sshFleet.ts) collected by the collectAll handler into SQLite.
 * Per case: the node's status, the time until the hub gave up on it (median over the rounds)
 * as a ratio to a good node's time in the same rounds, rows stored from it, and the hub's peak
 * RSS against rounds of the good nodes alone (the anchor), same run.
 *
 *   npm run bench:faults               # 5 rounds (about 30 s: the hung df's first round waits the 10 s command timeout)
 *   BENCH_ROUNDS=9 npm run bench:faults
 */
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { lambdaContext } from '../cli/lambdaContext.js';
import type { CollectionSummary } from '../shared/collect/collection.js';
import { closeResources } from '../shared/handler/resources.js';
import { startFleet } from '../test/harness/sshFleet.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MACHINE = join(import.meta.dirname, '..', 'test', 'fixtures', 'machines', 'rpi4');
const GOOD = 4;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-faults-'));
chmodSync(dir, 0o755);
const fakeBin = join(dir, 'fakebin');
mkdirSync(fakeBin);
writeFileSync(join(fakeBin, 'df'), '#!/bin/sh\nexec sleep 3600\n', { mode: 0o755 });

const CASES: Record<string, { what: string; spoil: (root: string) => void; env?: Record<string, string> }> = {
  zero: { what: 'proc file linked to /dev/zero', spoil: (r) => (rmSync(join(r, 'proc', 'stat')), symlinkSync('/dev/zero', join(r, 'proc', 'stat'))) },
  huge: {
    what: '600 MB proc file',
    spoil: (r) => (writeFileSync(join(r, 'proc', 'meminfo'), ''), truncateSync(join(r, 'proc', 'meminfo'), 600e6)),
  },
  lines: { what: '300,000 short lines', spoil: (r) => ['stat', 'meminfo', 'loadavg'].forEach((f) => writeFileSync(join(r, 'proc', f), '0\n'.repeat(100_000))) },
  hungdf: { what: 'df hangs (dead mount)', spoil: () => {}, env: { PATH: `${fakeBin}:/usr/bin:/bin` } },
};

function makeRoot(name: string, spoil: (root: string) => void): string {
  const root = join(dir, 'roots', name);
  mkdirSync(root, { recursive: true });
  cpSync(join(MACHINE, 'proc'), join(root, 'proc'), { recursive: true });
  cpSync(join(MACHINE, 'sys'), join(root, 'sys'), { recursive: true, verbatimSymlinks: true });
  spoil(root);
  return root;
}

const names = [...Array.from({ length: GOOD }, (_, i) => `good${i + 1}`), ...Object.keys(CASES)];
const fleet = await startFleet({ count: names.length, env: names.map((n) => CASES[n]?.env ?? {}) });
try {
  const line = (i: number) => {
    const n = fleet.nodes[i]!;
    const root = makeRoot(names[i]!, CASES[names[i]!]?.spoil ?? (() => {}));
    return `${names[i]} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile} edgefleet_proc_root=${root}/proc edgefleet_sys_root=${root}/sys`;
  };
  const all = names.map((_, i) => line(i));
  writeFileSync(join(dir, 'good.ini'), '[edge]\n' + all.slice(0, GOOD).join('\n') + '\n');
  writeFileSync(join(dir, 'all.ini'), '[edge]\n' + all.join('\n') + '\n');
  Object.assign(process.env, {
    EDGEFLEET_DB: join(dir, 'edgefleet.db'),
    EDGEFLEET_SSH_KNOWN_HOSTS_FILE: fleet.knownHostsFile,
    EDGEFLEET_LOG_LEVEL: 'silent',
  });
  const { handler } = await import('../functions/collectAll.js');

  /** One round, and the hub's peak RSS during it (sampled every 2 ms). */
  async function round(inventory: string): Promise<{ s: CollectionSummary; peakMiB: number; ms: number }> {
    process.env.EDGEFLEET_INVENTORY = join(dir, inventory);
    let peak = process.memoryUsage.rss();
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2);
    const t0 = performance.now();
    const s = (await handler({}, lambdaContext('collectAll') as never)) as CollectionSummary;
    const ms = performance.now() - t0;
    clearInterval(timer);
    return { s, ms, peakMiB: Math.max(peak, process.memoryUsage.rss()) / 2 ** 20 };
  }

  await round('good.ini'); // warm-up: connections, counters
  const anchor: number[] = [];
  for (let i = 0; i < ROUNDS; i++) anchor.push((await round('good.ini')).peakMiB);
  const faulty: { s: CollectionSummary; peakMiB: number; ms: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) faulty.push(await round('all.ini'));

  const db = new Database(join(dir, 'edgefleet.db'), { readonly: true });
  const rowsFrom = (node: string, tables: string[]) =>
    tables.reduce((n, t) => n + (db.prepare(`SELECT COUNT(*) AS n FROM ${t} WHERE node_id = (SELECT id FROM nodes WHERE name = ?)`).get(node) as { n: number }).n, 0);
  const per = (node: string) => faulty.map((r) => r.s.perNode.find((p) => p.node === node)!);
  const goodMs = median(faulty.flatMap(() => names.slice(0, GOOD).flatMap((g) => per(g).map((p) => p.durationMs))));
  console.log(`good node: ${goodMs.toFixed(1)} ms median per node; all ${GOOD} up in every round: ${names.slice(0, GOOD).every((g) => per(g).every((p) => p.status === 'up'))}`);
  console.log('| case | status: reason | time to give up (median; first round) | × good node | rows stored from it |');
  console.log('| --- | --- | ---: | ---: | ---: |');
  for (const [name, c] of Object.entries(CASES)) {
    const p = per(name);
    const ms = median(p.map((x) => x.durationMs));
    const reason = p.at(-1)!.error!.replace(/ (from|on) \S+@[^\s:]+:\d+/, '').slice(0, 90);
    // hungdf's other kinds are true and stored; only storage must be empty.
    const storedRows = name === 'hungdf' ? `${rowsFrom(name, ['storage'])} storage` : String(rowsFrom(name, ['temperature', 'cpu', 'load', 'memory', 'storage', 'network']));
    console.log(`| ${c.what} | ${p.at(-1)!.status}: ${reason} | ${(ms / 1000).toFixed(2)} s; ${(p[0]!.durationMs / 1000).toFixed(2)} s | ${(ms / goodMs).toFixed(0)}× | ${storedRows} |`);
  }
  // Peaks, not medians: RSS that a round takes stays with the process for a while.
  const faultyPeak = Math.max(...faulty.map((r) => r.peakMiB));
  const anchorPeak = Math.max(...anchor);
  console.log(`hub peak RSS: ${faultyPeak.toFixed(1)} MiB over the rounds with the faulty nodes, ${anchorPeak.toFixed(1)} MiB over the rounds of the good nodes alone (anchor, run first)`);
  console.log(`round wall time median: ${(median(faulty.map((r) => r.ms)) / 1000).toFixed(2)} s with the faulty nodes`);
  console.log(`bench:faults peakRssMiB=${faultyPeak.toFixed(1)} anchorMiB=${anchorPeak.toFixed(1)} ratio=${(faultyPeak / anchorPeak).toFixed(2)}x`);
  db.close();
} finally {
  await closeResources();
  await fleet.close();
  rmSync(dir, { recursive: true, force: true });
}
