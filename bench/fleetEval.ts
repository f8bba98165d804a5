/**
 * `npm run eval:fleet [-- --days 7 --nodes 6 --set key=value…]`: how often the detector raises an
 * alarm on fleets where nothing is wrong — the bench fleet (bench/fleetData.ts: smooth waves) and
 * a week of a steady synthetic fleet (bench/steadyFleet.ts: daily cycles, noise, disks filling).
 * Each node's every detected series (the rollup series of shared/store/rollups.ts, from the
 * readings a collection would store) goes the hub's way: 10-second samples averaged into
 * 5-minute steps (shared/detect/steps.ts), each step scored by the detector; consecutive
 * anomalous steps are one episode, as detectAnomalies merges them. Counted per node per day of
 * scored time (after the detector's learning steps), with what opened each episode: the series
 * kind and the detector's mechanism (`Detection.cause`: shift, extreme, profile, alarm, stay, context).
 * Last line: `eval:fleet episodes_per_node_day=<steady week> bench_fleet=<bench fleet>`.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_DETECTOR_CONFIG, detect, type DetectorConfig } from '../shared/detect/detector.js';
import { addSample, DEFAULT_STEP_SECONDS, newSeriesState, type SeriesState } from '../shared/detect/steps.js';
import type { NodeReadings } from '../shared/store/index.js';
import { fleetSpecs, nodeReadings } from './fleetData.js';
import { parseSettings } from './nab.js';
import { steadyNode } from './steadyFleet.js';

const CPU_MODES = ['user', 'nice', 'system', 'iowait', 'irq', 'softirq', 'steal'] as const;

/** The detected series' values in one node-round, keyed `series|label` (shared/store/rollups.ts ROLLUP_SERIES). */
export function seriesValues(r: NodeReadings): [string, number][] {
  const out: [string, number][] = [];
  for (const t of r.temperature ?? []) out.push([`temperature.celsius|${t.sensor}`, t.celsius]);
  for (const c of r.cpu ?? []) {
    out.push([`cpu.usage_percent|${c.cpu}`, c.usagePercent]);
    if (c.cpu === 'all') for (const m of CPU_MODES) out.push([`cpu.${m}_percent|all`, c[`${m}Percent`]]);
  }
  if (r.load) for (const l of ['load1', 'load5', 'load15'] as const) out.push([`load.${l}|`, r.load[l]]);
  const m = r.memory;
  if (m) {
    const used = m.memTotalBytes - (m.memAvailableBytes ?? m.memFreeBytes + (m.buffersBytes ?? 0) + (m.cachedBytes ?? 0));
    const mem: [string, number | undefined][] = [
      ['used_percent', m.usedPercent], ['used_bytes', used], ['available_bytes', m.memAvailableBytes], ['cached_bytes', m.cachedBytes], ['buffers_bytes', m.buffersBytes],
      ['free_bytes', m.memFreeBytes], ['total_bytes', m.memTotalBytes], ['swap_used_bytes', m.swapTotalBytes !== undefined && m.swapFreeBytes !== undefined ? m.swapTotalBytes - m.swapFreeBytes : undefined], ['swap_total_bytes', m.swapTotalBytes],
    ];
    for (const [k, v] of mem) if (v !== undefined) out.push([`memory.${k}|`, v]);
  }
  for (const s of r.storage ?? []) {
    out.push([`storage.used_percent|${s.mountPoint}`, s.usedPercent], [`storage.used_bytes|${s.mountPoint}`, s.usedBytes], [`storage.total_bytes|${s.mountPoint}`, s.totalBytes]);
  }
  for (const n of r.network?.rates.values() ?? []) {
    for (const d of ['rx', 'tx'] as const) for (const k of ['Bytes', 'Packets', 'Errors', 'Drops'] as const) out.push([`network.${d}_${k.toLowerCase()}_per_second|${n.iface}`, n[`${d}${k}PerSecond`]]);
  }
  return out;
}

export interface FleetCount {
  nodes: number;
  series: number;
  steps: number;
  episodes: number;
  /** Node-days of scored steps (after each series' learning). */
  nodeDays: number;
  perSeries: Map<string, number>;
  /** Episodes by the mechanism that opened them (`Detection.cause`). */
  perCause: Map<string, number>;
  /** Episodes by series kind and mechanism, keyed `kind cause`. */
  perSeriesCause: Map<string, number>;
  /** Episodes by the day (0-based) they start in. */
  perDay: number[];
}

/** Every node's rounds through steps and the detector; episodes = runs of anomalous steps. */
export function countEpisodes(nodes: { next: (t: number) => NodeReadings }[], days: number, config: Readonly<DetectorConfig>, intervalSeconds = 10, stepSeconds = DEFAULT_STEP_SECONDS): FleetCount {
  const start = 1_700_000_100 - (1_700_000_100 % 86400);
  const rounds = Math.round((days * 86400) / intervalSeconds);
  let series = 0;
  let steps = 0;
  let episodes = 0;
  const perSeries = new Map<string, number>();
  const perCause = new Map<string, number>();
  const perSeriesCause = new Map<string, number>();
  const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const perDay = new Array<number>(Math.ceil(days)).fill(0);
  for (const node of nodes) {
    const states = new Map<string, { s: SeriesState; open: boolean }>();
    for (let k = 0; k < rounds; k++) {
      for (const [key, v] of seriesValues(node.next(start + k * intervalSeconds))) {
        let st = states.get(key);
        if (!st) states.set(key, (st = { s: newSeriesState(stepSeconds), open: false }));
        const step = addSample(st.s, start + k * intervalSeconds, v);
        if (!step) continue;
        steps++;
        const d = detect(st.s.detector, step.value, config, step.timeUnixSeconds);
        if (d.anomalous && !st.open) {
          episodes++;
          const kind = key.slice(0, key.indexOf('|'));
          count(perSeries, kind);
          count(perCause, d.cause ?? 'unknown');
          count(perSeriesCause, `${kind} ${d.cause ?? 'unknown'}`);
          perDay[Math.floor((k * intervalSeconds) / 86400)]!++;
        }
        st.open = d.anomalous;
      }
    }
    series += states.size;
  }
  const scoredDays = Math.max(0, days - (config.warmupSamples * stepSeconds) / 86400);
  return { nodes: nodes.length, series, steps, episodes, nodeDays: nodes.length * scoredDays, perSeries, perCause, perSeriesCause, perDay };
}

function report(label: string, c: FleetCount): number {
  const rate = c.nodeDays > 0 ? c.episodes / c.nodeDays : 0;
  const list = (m: Map<string, number>, n = 6) => [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, n).map(([k, v]) => `${k} ${v}`).join(', ');
  const top = list(c.perSeries);
  process.stdout.write(`${label.padEnd(12)} ${c.nodes} nodes, ${c.series} series, ${c.steps} steps: ${c.episodes} episodes, ${rate.toFixed(3)} per node per day; by day ${c.perDay.join(' ')}${top ? `; by series ${top}` : ''}\n`);
  if (c.episodes > 0) process.stdout.write(`${''.padEnd(12)} by cause ${list(c.perCause)}; by series and cause ${list(c.perSeriesCause, 10)}\n`);
  return rate;
}

function main(): number {
  const { values: o } = parseArgs({ options: { days: { type: 'string', default: '7' }, nodes: { type: 'string', default: '6' }, set: { type: 'string', multiple: true } } });
  const days = Number(o.days);
  const n = Number(o.nodes);
  if (!(days > 0) || !(Number.isInteger(n) && n > 0)) throw new Error('--days must be a positive number and --nodes a positive integer');
  const config = { ...DEFAULT_DETECTOR_CONFIG, ...parseSettings(o.set ?? [])[0] };
  const steady = countEpisodes(Array.from({ length: n }, (_, i) => steadyNode(i)), days, config);
  const bench = countEpisodes(
    fleetSpecs(n).map(({ spec, shape }, i) => {
      let k = 0;
      return { next: (t: number) => nodeReadings(spec.name, shape, i, k++, t) };
    }),
    days,
    config,
  );
  const a = report('steady week', steady);
  const b = report('bench fleet', bench);
  process.stdout.write(`eval:fleet episodes_per_node_day=${a.toFixed(3)} bench_fleet=${b.toFixed(3)}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    process.exitCode = main();
  } catch (e) {
    process.stderr.write(`eval:fleet: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
