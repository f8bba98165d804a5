/**
 * `npm run bench:detect`: what the anomaly detector costs per sample per series, as the hub pays
 * it — the pure `detect` step, and the same with the state going through JSON once per 6 samples
 * (detectAnomalies loads and saves each series' state once per run; a run every minute sees ~6
 * samples of a 10-second collection). Anchor: a plain loop summing the same samples, measured in
 * the same run. Series: a synthetic fleet (sine + noise + steps + spikes), 200 series × 5000
 * samples, so no data folder is needed. Last line: `bench:detect ns_per_sample=<n>`.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_DETECTOR_CONFIG as DEFAULTS, detect, newDetectorState, type DetectorState } from '../shared/detect/detector.js';
import { parseSettings } from './nab.js';

// `-- --set key=value`: the cost of another setting (e.g. profileBins=0, the detector without its time-of-day profile).
const DEFAULT_DETECTOR_CONFIG = { ...DEFAULTS, ...parseSettings(parseArgs({ options: { set: { type: 'string', multiple: true } } }).values.set ?? [])[0] };

const SERIES = Number(process.env.BENCH_SERIES ?? 200);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 5000);
const ROUNDS = 5;
/** The samples are 5-minute steps from this time (the detector's time-of-day profile needs times). */
const T0 = 1_700_000_000;

function synthetic(seed: number, n: number): Float64Array {
  let s = seed * 2654435761 + 1;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const out = new Float64Array(n);
  let level = 40 + 20 * rand();
  for (let i = 0; i < n; i++) {
    if (rand() < 0.001) level += (rand() - 0.5) * 30;
    out[i] = level + 5 * Math.sin((2 * Math.PI * i) / 288) + 2 * (rand() - 0.5) + (rand() < 0.002 ? 40 : 0);
  }
  return out;
}

const data = Array.from({ length: SERIES }, (_, i) => synthetic(i + 1, SAMPLES));
const total = SERIES * SAMPLES;
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;

function timeIt(fn: () => number): { nsPerSample: number; check: number } {
  const ns: number[] = [];
  let check = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    check += fn();
    ns.push(Number(process.hrtime.bigint() - t0) / total);
  }
  return { nsPerSample: median(ns), check };
}

const anchor = timeIt(() => {
  let sum = 0;
  for (const d of data) for (let i = 0; i < d.length; i++) sum += d[i]!;
  return sum;
});
const pure = timeIt(() => {
  let flags = 0;
  for (const d of data) {
    const st = newDetectorState();
    for (let i = 0; i < d.length; i++) if (detect(st, d[i]!, DEFAULT_DETECTOR_CONFIG, T0 + 300 * i).flagged) flags++;
  }
  return flags;
});
const withState = timeIt(() => {
  let flags = 0;
  for (const d of data) {
    let json = JSON.stringify(newDetectorState());
    for (let i = 0; i < d.length; i += 6) {
      const st = JSON.parse(json) as DetectorState;
      for (let j = i; j < Math.min(d.length, i + 6); j++) if (detect(st, d[j]!, DEFAULT_DETECTOR_CONFIG, T0 + 300 * j).flagged) flags++;
      json = JSON.stringify(st);
    }
  }
  return flags;
});
const stateBytes = (() => {
  const st = newDetectorState();
  data[0]!.forEach((v, i) => detect(st, v, DEFAULT_DETECTOR_CONFIG, T0 + 300 * i));
  return JSON.stringify(st).length;
})();

process.stdout.write(`${SERIES} series × ${SAMPLES} samples, median of ${ROUNDS} rounds\n`);
process.stdout.write(`anchor (sum):                 ${anchor.nsPerSample.toFixed(1)} ns/sample\n`);
process.stdout.write(`detect:                       ${pure.nsPerSample.toFixed(0)} ns/sample (${(pure.nsPerSample / anchor.nsPerSample).toFixed(0)}× the anchor), ${pure.check / ROUNDS} flags\n`);
process.stdout.write(`detect + JSON state every 6:  ${withState.nsPerSample.toFixed(0)} ns/sample; state ${stateBytes} bytes of JSON per series\n`);
process.stdout.write(`bench:detect ns_per_sample=${Math.round(pure.nsPerSample)}\n`);
