import assert from 'node:assert/strict';
import type Database from 'better-sqlite3';
import type { Prometheus } from './prometheus.js';

/**
 * The PromQL, asked of a Prometheus that scraped or received edgefleet, checked against
 * the rows edgefleet stored for the same rounds (read straight from its SQLite file).
 */

export const close = (a: number, b: number, what: string, rel = 1e-9) => assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)), `${what}: ${a} ≠ ${b}`);

const nodeId = (db: Database.Database, name: string) => (db.prepare('SELECT id FROM nodes WHERE name = ?').get(name) as { id: number }).id;

/**
 * Which stored round each Prometheus sample of a counter is: the rounds' counters never go down,
 * so samples and rows are matched in order by value (a round Prometheus lacks is skipped).
 * Returns the row index of each sample; -1 for a sample no later row holds.
 */
export function alignByValue(samples: readonly [number, number][], rows: readonly number[]): number[] {
  const out: number[] = [];
  let j = 0;
  for (const [, v] of samples) {
    while (j < rows.length && rows[j] !== v) j++;
    out.push(j < rows.length ? j : -1);
    if (j < rows.length) j++;
  }
  return out;
}

/** Prometheus' raw samples of one series over the last `range`. */
export async function rawSamples(prom: Prometheus, selector: string, range = '1h'): Promise<[number, number][]> {
  const r = await prom.query(`${selector}[${range}]`);
  assert.equal(r.length, 1, `${selector}: ${JSON.stringify(r).slice(0, 500)}`);
  return r[0]!.values!.map(([t, v]) => [t, Number(v)]);
}

/** Pairs of Prometheus samples that are consecutive stored rounds of eth0: [previous, this, round index]. */
async function roundPairs(prom: Prometheus, db: Database.Database, node: string) {
  const stored = db.prepare("SELECT time, rx_bytes, rx_bytes_per_second AS rate FROM network WHERE node_id = ? AND iface = 'eth0' ORDER BY time").all(nodeId(db, node)) as { time: number; rx_bytes: number; rate: number | null }[];
  const samples = await rawSamples(prom, `node_network_receive_bytes_total{instance="${node}",device="eth0"}`);
  const rows = alignByValue(samples, stored.map((s) => s.rx_bytes));
  const pairs: { prev: [number, number]; cur: [number, number]; row: (typeof stored)[number] }[] = [];
  for (let i = 0; i < samples.length; i++) {
    assert.ok(rows[i]! >= 0, `sample ${samples[i]} is no stored round's counter`);
    if (i > 0 && rows[i - 1] === rows[i]! - 1) pairs.push({ prev: samples[i - 1]!, cur: samples[i]!, row: stored[rows[i]!]! });
  }
  return { pairs, samples, stored };
}

/** A range exactly from one sample to the next: rate() is then Δ/Δt, with no extrapolation. */
const rangeMs = (p: { prev: [number, number]; cur: [number, number] }) => Math.round((p.cur[0] - p.prev[0]) * 1000);

/** rate(node_network_receive_bytes_total[…]) = the rx_bytes_per_second edgefleet stored, round by round. Returns rounds compared. */
export async function checkNetworkRates(prom: Prometheus, db: Database.Database, node: string): Promise<number> {
  const { pairs } = await roundPairs(prom, db, node);
  for (const p of pairs) {
    const [r] = await prom.query(`rate(node_network_receive_bytes_total{instance="${node}",device="eth0"}[${rangeMs(p)}ms])`, p.cur[0]);
    close(Number(r!.value![1]), p.row.rate!, `${node} round at ${p.row.time}`);
  }
  return pairs.length;
}

/**
 * 100 - avg by (instance)(rate(node_cpu_seconds_total{mode="idle"}[…]))*100 from the CPU rows
 * edgefleet stored: each core's idle share of the ticks that passed and how many seconds of
 * ticks that was (idle seconds = share × seconds), over the clock's Δt between the samples.
 */
export async function checkCpuBusy(prom: Prometheus, db: Database.Database, node: string): Promise<number> {
  const cpuRows = db.prepare("SELECT time, idle_percent AS idle, interval_seconds AS seconds FROM cpu WHERE node_id = ? AND cpu <> 'all'").all(nodeId(db, node)) as { time: number; idle: number; seconds: number }[];
  const { pairs } = await roundPairs(prom, db, node);
  let checked = 0;
  for (const p of pairs) {
    const cores = cpuRows.filter((c) => c.time === p.row.time);
    // No tick passed (the files did not change between the two rounds): edgefleet stores no usage.
    if (cores.length === 0) continue;
    const [r] = await prom.query(`100 - avg by (instance)(rate(node_cpu_seconds_total{mode="idle",instance="${node}"}[${rangeMs(p)}ms]))*100`, p.cur[0]);
    const expected = 100 - (cores.reduce((s, c) => s + ((c.idle / 100) * c.seconds) / (rangeMs(p) / 1000), 0) / cores.length) * 100;
    close(Number(r!.value![1]), expected, `${node} round at ${p.row.time}`, 1e-6);
    checked++;
  }
  return checked;
}

/** node_memory_MemAvailable_bytes at each round's time = the stored mem_available_bytes. Returns the samples Prometheus has. */
export async function checkMemAvailable(prom: Prometheus, db: Database.Database, node: string): Promise<[number, number][]> {
  const stored = new Map((db.prepare('SELECT time, mem_available_bytes AS v FROM memory WHERE node_id = ?').all(nodeId(db, node)) as { time: number; v: number }[]).map((r) => [r.time, r.v]));
  const samples = await rawSamples(prom, `node_memory_MemAvailable_bytes{instance="${node}"}`);
  for (const [t, v] of samples) {
    assert.equal(v, stored.get(t), `${node} raw sample at ${t}`);
    const [r] = await prom.query(`node_memory_MemAvailable_bytes{instance="${node}"}`, t);
    assert.equal(Number(r!.value![1]), stored.get(t));
  }
  return samples;
}
