import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { detectorScores, leaveGroupOut, loadNab, loadNabDirs, lofoGroup, parseSettings, resolveDataDir } from '../bench/nab.js';
import { detectAnomalies, tempMaxCelsius } from '../shared/detect/anomalies.js';
import { DEFAULT_DETECTOR_CONFIG, DETECTORS, detect, isDetectorState, newDetectorState, type DetectorConfig, type DetectorState } from '../shared/detect/detector.js';
import { NAB_PROFILES, normalizeNab, optimizeThreshold, parseNabCsv, probationaryRows, scaledSigmoid, scoreFile, scoreNab, windowReport, windowRows, type NabFile } from '../shared/detect/nab.js';
import { parseSince } from '../shared/detect/since.js';
import { addSample, checkStepSeconds, isSeriesState, newSeriesState } from '../shared/detect/steps.js';
import { loadConfig } from '../shared/config/config.js';
import type { NodeSpec } from '../shared/domain/index.js';
import { anomalyStore, listAnomalies, listNodes, openDb, readingsWriter, recordOutcomes, syncNodes, type Db } from '../shared/store/index.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/nab', import.meta.url));
const [standard, lowFp, lowFn] = NAB_PROFILES;
/** Standard normal draws from a seeded Park–Miller source (Box–Muller). */
const gaussianSource = (seed: number) => {
  let rng = seed;
  const u = () => (rng = (rng * 16807) % 2147483647) / 2147483647;
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
};
const near = (a: number, b: number, eps = 1e-6) => assert.ok(Math.abs(a - b) < eps, `${a} ≠ ${b}`);

describe('NAB scoring (hand-worked)', () => {
  it('scaled sigmoid and probation', () => {
    near(scaledSigmoid(-1), 0.9866142981514305);
    near(scaledSigmoid(0), 0);
    near(scaledSigmoid(3), -0.9999994);
    assert.equal(scaledSigmoid(3.01), -1);
    assert.equal(probationaryRows(100), 15);
    assert.equal(probationaryRows(4032), 604);
    assert.equal(probationaryRows(22695), 750);
  });

  // 100 rows (rows 0-14 probationary), one window [40, 49]. Detections: 5 (probation: ignored),
  // 20 (before the window: −A_FP), 44 and 47 (in it: the earlier counts, σ(−0.6)/σ(−1)),
  // 60 (after it: A_FP·σ(11/9)), 90 (far after: y = 41/9 > 3, −A_FP).
  const scores = new Float64Array(100);
  for (const i of [5, 20, 44, 47, 60, 90]) scores[i] = 1;
  const file: NabFile = { name: 'hand', scores, windows: [[40, 49]] };
  it('one file, three profiles (values worked out by hand)', () => {
    const s = scoreFile(file, 0.5, standard);
    near(s.score, -0.11 + 0.9174286804284079 - 0.10951310130369775 - 0.11);
    assert.deepEqual([s.truePositives, s.falseNegatives, s.falsePositives], [1, 0, 3]);
    near(normalizeNab(s.score, [file], standard), 79.3957789562355);
    near(normalizeNab(scoreFile(file, 0.5, lowFp).score, [file], lowFp), 62.920123891050615);
    near(normalizeNab(scoreFile(file, 0.5, lowFn).score, [file], lowFn), 86.26385263749034);
  });
  it('a detection on the last row of a window is worth σ(−1/w)/σ(−1)', () => {
    const late = new Float64Array(100);
    late[49] = 1;
    near(scoreFile({ name: 'late', scores: late, windows: [[40, 49]] }, 0.5, standard).score, 0.24824154977542992);
  });
  it('perfect = 100, null = 0, and the threshold sweep finds the best cut', () => {
    const perfect = new Float64Array(100);
    perfect[40] = 1;
    assert.equal(scoreNab([{ name: 'p', scores: perfect, windows: [[40, 49]] }], standard).normalized, 100);
    assert.equal(scoreNab([{ name: 'n', scores: new Float64Array(100), windows: [[40, 49]] }], standard).normalized, 0);
    // 0.9 in the window, 0.95 and 0.8 outside: the best threshold is 0.9 (window found, the 0.95 FP paid).
    const s = new Float64Array(100);
    s[45] = 0.9;
    s[30] = 0.95;
    s[70] = 0.8;
    const f = { name: 's', scores: s, windows: [[40, 49]] as [number, number][] };
    assert.equal(optimizeThreshold([f], standard).threshold, 0.9);
    // Missing the window costs more than 2 FPs under low-FN too; with no window, never firing wins.
    assert.equal(optimizeThreshold([{ ...f, windows: [] }], standard).threshold > 0.95, true);
  });
  it('window report: earliest detection, how close a miss came, false positives after probation', () => {
    const scores = new Array<number>(100).fill(0);
    scores[3] = 0.9; // probation (15 rows): not a false positive
    scores[50] = 0.95; // outside every window
    scores[62] = 0.7; // first window, under the threshold
    scores[65] = 0.85; // first window: found here
    scores[68] = 0.99; // first window's highest
    scores[85] = 0.79; // second window: missed, its highest
    const r = windowReport({ name: 'f', scores, windows: [[60, 70], [80, 90]] }, 0.8);
    assert.deepEqual(r.windows, [
      { first: 60, last: 70, detectedRow: 65, position: 0.5, maxScore: 0.99, maxRow: 68 },
      { first: 80, last: 90, detectedRow: -1, position: null, maxScore: 0.79, maxRow: 85 },
    ]);
    assert.deepEqual(r.falsePositiveRows, [50]);
  });
  it('reads NAB CSVs and maps windows to rows', () => {
    const { timestamps, values } = parseNabCsv('timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,2.5\n2014-01-01 00:10:00,3\n');
    assert.deepEqual([...values], [1, 2.5, 3]);
    assert.deepEqual(windowRows(timestamps, [['2014-01-01 00:05:00.000000', '2014-01-01 00:10:00.000000']]), [[1, 2]]);
    assert.throws(() => parseNabCsv('time,value\n'), /expected header/);
    assert.throws(() => parseNabCsv('timestamp,value\n2014-01-01 00:00:00,x\n', 'f.csv'), /f\.csv:2/);
    assert.throws(() => windowRows(timestamps, [['2015-01-01 00:00:00', '2015-01-02 00:00:00']]), /not a row/);
  });
});

describe('detector', () => {
  const series = loadNab(FIXTURE);
  it('scores in [0, 1], learns before scoring, and is online (a prefix scores the same)', () => {
    const v = series[0]!.values;
    const all = detectorScores(v);
    const prefix = detectorScores(v.slice(0, 2000));
    assert.deepEqual([...prefix], [...all.slice(0, 2000)]);
    assert.ok(all.every((s) => s >= 0 && s <= 1));
    assert.ok(all.slice(0, DEFAULT_DETECTOR_CONFIG.warmupSamples).every((s) => s === 0));
  });
  it('state through JSON at any point gives the same scores (a restarted hub is not cold)', () => {
    const v = series[1]!.values;
    const all = detectorScores(v);
    let st: DetectorState = newDetectorState();
    const out: number[] = [];
    for (let i = 0; i < v.length; i++) {
      if (i % 7 === 3) {
        const parsed: unknown = JSON.parse(JSON.stringify(st));
        assert.ok(isDetectorState(parsed));
        st = parsed;
      }
      out.push(detect(st, v[i]!).score);
    }
    assert.deepEqual(out, [...all]);
    assert.ok(JSON.stringify(st).length < 4000);
  });
  // On pure noise the likelihood stays low; a step of 20 σ is improbable at once.
  it('flags a level shift; few alarms on steady noise', () => {
    const st = newDetectorState();
    let rng = 7;
    const noise = () => ((rng = (rng * 16807) % 2147483647) / 2147483647 - 0.5) * 2;
    const flags: number[] = [];
    for (let i = 0; i < 3000; i++) if (detect(st, 50 + noise() + (i >= 2500 ? 20 : 0)).flagged) flags.push(i);
    assert.ok(flags.includes(2500) || flags.includes(2501), `flags: ${flags}`);
    assert.ok(flags.filter((i) => i < 2500).length <= 5, `false alarms: ${flags}`);
  });
  // Gaussian noise keeps setting tiny new records; each used to score as a "new extreme".
  it('a record inside the sample-to-sample noise is no alarm; one that clears it by a wide margin is', () => {
    const run = (recordMarginNoise: number, jumpAt?: number) => {
      const st = newDetectorState();
      let rng = 5;
      const u = () => (rng = (rng * 16807) % 2147483647) / 2147483647;
      const flags: number[] = [];
      for (let i = 0; i < 20_000; i++) {
        const gauss = u() + u() + u() + u() - 2;
        const value = 50 + gauss + (i === jumpAt ? 5 : 0);
        if (detect(st, value, { ...DEFAULT_DETECTOR_CONFIG, recordMarginNoise }).flagged) flags.push(i);
      }
      return flags;
    };
    const without = run(0);
    assert.ok(without.length > 0, 'this noise sets records that alarm without the margin');
    assert.deepEqual(run(DEFAULT_DETECTOR_CONFIG.recordMarginNoise), []);
    // The noise stays within 48..52 (σ ≈ 0.58); a sample 5 up clears the old maximum by more than the noise.
    assert.ok(run(DEFAULT_DETECTOR_CONFIG.recordMarginNoise, 15_000).includes(15_000));
  });
  it('a band held longer than ever before is flagged once, where it becomes the record stay', () => {
    // `switching` samples alternating between 0 and 10 every 50 (stays of 50 in the top and bottom
    // quarters), then 10 held for 300 samples: the record mark is 1.75 × 50 → the hold's 88th sample.
    const run = (switching: number, stayBands = DEFAULT_DETECTOR_CONFIG.stayBands) => {
      const st = newDetectorState();
      let rng = 3;
      const noise = () => ((rng = (rng * 16807) % 2147483647) / 2147483647 - 0.5) * 0.5;
      const flags: number[] = [];
      for (let i = 0; i < switching + 300; i++) {
        const level = i >= switching || Math.floor(i / 50) % 2 ? 10 : 0;
        if (detect(st, level + noise(), { ...DEFAULT_DETECTOR_CONFIG, stayBands }).flagged) flags.push(i);
      }
      return flags.filter((i) => i >= switching);
    };
    // The hold starts at 3950 (the last 50-sample stay at 10 runs on), so its 88th sample is 4037.
    assert.deepEqual(run(4000), [3950 + 87]);
    assert.deepEqual(run(4000, 0), []);
    // After 950 samples, 88 is not "longer than ever": the history must be 40 × the stay.
    assert.deepEqual(run(1000), []);
  });
  it('names the mechanism that made a sample anomalous (what eval:fleet counts by)', () => {
    const causes = (values: (i: number) => number, n: number) => {
      const st = newDetectorState();
      const out = new Map<number, string | undefined>();
      for (let i = 0; i < n; i++) {
        const d = detect(st, values(i));
        if (d.anomalous) out.set(i, d.cause);
        else assert.equal(d.cause, undefined);
      }
      return out;
    };
    let rng = 11;
    const u = () => (rng = (rng * 16807) % 2147483647) / 2147483647;
    const noise = Array.from({ length: 6000 }, () => u() + u() + u() + u() - 2);
    // One sample 5 above noise that stays within 48..52: a new extreme, which a median of three ignores.
    assert.equal(causes((i) => 50 + noise[i]! + (i === 4000 ? 5 : 0), 4001).get(4000), 'extreme');
    // Excursions to 30 and 70 early on widen the range; from 5000 the level holds at 60, inside it:
    // the median of the newest three moves at the second sample, a level shift and no record.
    const shifted = causes((i) => noise[i]! + (i >= 300 && i < 310 ? 70 : i >= 320 && i < 330 ? 30 : i >= 5000 ? 60 : 50), 5003);
    assert.equal(shifted.get(5001), 'shift', `causes from 5000: ${[...shifted].filter(([i]) => i >= 5000)}`);
    // Stays of 50 alternating between 0 and 10, then 10 held: the record stay (the test above) at 4037.
    assert.equal(causes((i) => (i >= 4000 || Math.floor(i / 50) % 2 ? 10 : 0) + (noise[i]! / 4), 4100).get(4037), 'stay');
  });
  it('a first visit to a bucket transition raises the score; a known one does not', () => {
    const run = (contextWeight: number) => {
      const st = newDetectorState();
      const out: number[] = [];
      // A square wave between 0 and 10, then one visit to the middle of the range.
      for (let i = 0; i < 600; i++) out.push(detect(st, i === 500 ? 5 : Math.floor(i / 20) % 2 ? 10 : 0, { ...DEFAULT_DETECTOR_CONFIG, contextWeight }).score);
      return { out, st };
    };
    const on = run(0.1);
    const off = run(0);
    assert.ok(on.out[500]! > off.out[500]!, `${on.out[500]} vs ${off.out[500]}`);
    assert.equal(on.out[420], off.out[420]);
    assert.ok(on.st.seen.length <= 18 && on.st.ctx.length <= DEFAULT_DETECTOR_CONFIG.contextLength);
  });
  // A daily square wave (10 from 08:00 to 20:00 UTC, 0 otherwise, ±0.05 noise) at 5-minute steps; on
  // day 6 the rise at 08:00 does not come. Nothing is new about a 0 at 08:00 to any window-local
  // feature (the last 8 hours were 0 too, and 0 is inside the range); for the 08:00 bin it is
  // far from its mean in its deviations (floored at 1 % of the range = 0.1), so the profile adds up
  // to its weight there — and nothing on the regular days before.
  const squareDay = (i: number, skipDay: number) => {
    const hour = ((i * 300) % 86400) / 3600;
    const day = Math.floor((i * 300) / 86400);
    return hour >= 8 && hour < 20 && day !== skipDay ? 10 : 0;
  };
  it('time of day: a missing daily rise scores up to the profile weight more; regular days and untimed samples score as without it', () => {
    const T0 = 1_700_006_400 - (1_700_006_400 % 86400);
    const run = (profileBins: number, timed = true) => {
      const st = newDetectorState();
      let rng = 3;
      const u = () => (rng = (rng * 16807) % 2147483647) / 2147483647;
      const out: number[] = [];
      // The profile's bonus alone (likelihood-v6: without the drift alarm, which sees this day: below).
      for (let i = 0; i < 288 * 7; i++) out.push(detect(st, squareDay(i, 6) + (u() - 0.5) * 0.1, { ...DETECTORS['likelihood-v6'], profileBins }, timed ? T0 + 300 * i : undefined).score);
      return { out, st };
    };
    const off = run(0);
    const on = run(24);
    // Give or take an hour bin, and the 08:00 bin itself learns the missing day as it goes: the
    // first extra score comes after 08:00 and by 10:00; every earlier sample scores as without it.
    const from = 6 * 288 + 96; // day 6, 08:00
    const first = on.out.findIndex((x, i) => x !== off.out[i]);
    assert.ok(first > from && first <= from + 24, `first difference at step ${first}`);
    const extra = on.out.slice(from, from + 144).map((x, i) => x - off.out[from + i]!);
    assert.ok(Math.max(...extra) >= 0.2 && Math.max(...extra) <= DEFAULT_DETECTOR_CONFIG.profileWeight + 1e-9, `extra: ${Math.max(...extra)}`);
    assert.ok(off.out.slice(from, from + 144).every((x) => x < 0.5), 'without the profile the missing rise is not seen');
    // Without times the profile is off; its state stays empty.
    assert.deepEqual(run(24, false).out, off.out);
    assert.deepEqual(run(24, false).st.prof, []);
    // 24 bins × (mean, deviation, count); through JSON it is the same state.
    assert.equal(on.st.prof.length, 72);
    assert.ok(isDetectorState(JSON.parse(JSON.stringify(on.st))));
  });
  // The same week. From 08:00 on day 6 the recent median sits at 0 where its own hour bin has 10
  // (≫ 3 σ: each deviation enters clipped at 3), so the drift average climbs as 3 (1 − (11/12)^t)
  // and reaches 2 after t = ln 3 / ln(12/11) ≈ 12.6 samples, 13 — plus the recent median's lag
  // of one or two: one alarm, about 09:05–09:15, where likelihood-v6 has none.
  it('profile drift (likelihood-v7): a missing daily rise alarms once, about an hour in; regular days as likelihood-v6', () => {
    const T0 = 1_700_006_400 - (1_700_006_400 % 86400);
    const run = (config: Readonly<DetectorConfig>) => {
      const st = newDetectorState();
      let rng = 3;
      const u = () => (rng = (rng * 16807) % 2147483647) / 2147483647;
      const out: number[] = [];
      for (let i = 0; i < 288 * 7; i++) if (detect(st, squareDay(i, 6) + (u() - 0.5) * 0.1, config, T0 + 300 * i).flagged) out.push(i);
      return { out, st };
    };
    const v7 = run(DETECTORS['likelihood-v7']);
    const v6 = run(DETECTORS['likelihood-v6']).out;
    const from = 6 * 288 + 96; // day 6, 08:00
    const day6 = (i: number) => i >= from && i < from + 144;
    assert.deepEqual(v6.filter(day6), [], 'likelihood-v6 does not alarm on the missing rise');
    const alarms = v7.out.filter(day6).map((i) => i - from);
    assert.equal(alarms.length, 1, `alarms: ${alarms}`);
    assert.ok(alarms[0]! >= 13 && alarms[0]! <= 15, `alarm ${alarms[0]} steps after 08:00`);
    assert.deepEqual(v7.out.filter((i) => !day6(i)), v6.filter((i) => !day6(i)), 'the drift adds nothing on regular days');
    assert.ok(isDetectorState(JSON.parse(JSON.stringify(v7.st))));
    // likelihood-v8 (the default, a quiet hub) keeps the drift: the same one alarm; v7's quiet hub had none.
    assert.deepEqual(run(DETECTORS['likelihood-v8']).out.filter(day6), v7.out.filter(day6));
    assert.deepEqual(run({ ...DETECTORS['likelihood-v7'], recordProfileSigma: 5 }).out.filter(day6), [], 'likelihood-v7 on a quiet hub: no drift');
  });
  // A daily square wave (10 from 08:00 to 20:00 UTC, 0 otherwise) with uniform ±2 noise, 5-minute
  // steps; on day 6 the high ends at 14:00 instead of 20:00. Nothing is new to the window: the
  // fall is as deep as every evening's (the level-shift feature has seen it daily) and 0 is the
  // night's level. For the 14:00 bin and both neighbours (all 10 on every day before) it is far:
  // a bin's σ is the spread of the recent median (median of 3 of U(−2, 2): σ ≈ 0.89), so a 0 is
  // ≈ 11 σ away ≥ 8 — an alarm once the recent median is down, at 14:05 or 14:10, and once only
  // (the excursion lasts until 20:00). On a regular day the recent median stays within ≈ 4 σ.
  it('profile alarm (likelihood-v5): a day whose high ends early alarms once, where it ends; likelihood-v4 does not see it', () => {
    const T0 = 1_700_006_400 - (1_700_006_400 % 86400);
    const run = (config: Readonly<DetectorConfig>) => {
      const st = newDetectorState();
      let rng = 5;
      const u = () => (rng = (rng * 16807) % 2147483647) / 2147483647;
      const out: number[] = [];
      for (let i = 0; i < 288 * 8; i++) {
        const day = Math.floor(i / 288);
        const hour = (i % 288) / 12;
        const high = hour >= 8 && hour < (day === 6 ? 14 : 20);
        if (detect(st, (high ? 10 : 0) + (u() - 0.5) * 4, config, T0 + 300 * i).flagged) out.push(i);
      }
      return { out, st };
    };
    const v5 = run(DETECTORS['likelihood-v5']);
    const v4 = run(DETECTORS['likelihood-v4']).out;
    const early = 6 * 288 + 14 * 12; // day 6, 14:00
    const evening = 6 * 288 + 20 * 12;
    assert.deepEqual(v4.filter((i) => i >= early && i < evening), [], 'without the profile alarm the early end is not seen');
    const alarms = v5.out.filter((i) => i >= early && i < evening);
    assert.equal(alarms.length, 1, `alarms after 14:00: ${alarms.map((i) => i - early)}`);
    assert.ok(alarms[0]! - early >= 1 && alarms[0]! - early <= 2, `alarm ${alarms[0]! - early} steps after 14:00`);
    assert.deepEqual(v5.out.filter((i) => i < early || i >= evening), v4.filter((i) => i < early || i >= evening), 'the alarm adds nothing on regular days');
    assert.ok(isDetectorState(JSON.parse(JSON.stringify(v5.st))));
    // On a regular series the peak gate of likelihood-v6 changes nothing: its first excursion is its largest.
    assert.deepEqual(run(DETECTORS['likelihood-v6']).out, v5.out);
  });
  // The same days, but from day 3 on every night has a burst to 30 for an hour, at another hour
  // each night (01:00, 03:00, 22:00, …): over 20 σ of its hour. For this series the last
  // day's early end (≈ 11 σ, as above) is a smaller stray than it makes every night: likelihood-v5
  // alarms on it, likelihood-v6 holds it against the series' own recent peak (¾ of it) and
  // does not.
  it('profile alarm (likelihood-v6): a series that strays further every night does not alarm on an early end', () => {
    const T0 = 1_700_006_400 - (1_700_006_400 % 86400);
    const burst = [-1, -1, -1, 1, 3, 22, 5, 2, 23, 4, 0, 6, 21];
    const days = burst.length + 1;
    const run = (config: Readonly<DetectorConfig>) => {
      const st = newDetectorState();
      let rng = 7;
      const u = () => (rng = (rng * 16807) % 2147483647) / 2147483647;
      const out: number[] = [];
      for (let i = 0; i < 288 * days; i++) {
        const day = Math.floor(i / 288);
        const hour = (i % 288) / 12;
        const b = burst[day] ?? -1;
        const high = hour >= 8 && hour < (day === days - 1 ? 14 : 20);
        const level = b >= 0 && hour >= b && hour < b + 1 ? 30 : high ? 10 : 0;
        if (detect(st, level + (u() - 0.5) * 4, config, T0 + 300 * i).flagged) out.push(i);
      }
      return out;
    };
    const last = (days - 1) * 288;
    const v5 = run(DETECTORS['likelihood-v5']).filter((i) => i >= last + 14 * 12);
    const v6 = run(DETECTORS['likelihood-v6']).filter((i) => i >= last + 14 * 12);
    assert.ok(v5.length >= 1, 'likelihood-v5 alarms on the last early end');
    assert.deepEqual(v6, [], 'likelihood-v6: an early end like the cuts before it');
    // likelihood-v7's drift does see it: an hour's burst lifts the drift average to 3 (1 − (11/12)^12)
    // ≈ 1.9 at most, under its bar of 2, while the early end holds for six hours: one alarm, about
    // an hour in (13 samples and the recent median's lag, as for the missing rise).
    const v7 = run(DETECTORS['likelihood-v7']).filter((i) => i >= last + 14 * 12).map((i) => i - last - 14 * 12);
    assert.equal(v7.length, 1, `likelihood-v7 alarms: ${v7}`);
    assert.ok(v7[0]! >= 13 && v7[0]! <= 15, `likelihood-v7: alarm ${v7[0]} steps after 14:00`);
  });
  it('affine changes of the values (× 1000 + 5, × 0.001 − 40, a sign flip) leave the scores as they were', () => {
    const v = series[0]!.values;
    const times = Float64Array.from(v, (_, i) => 1_393_000_000 + 300 * i);
    const base = detectorScores(v, DEFAULT_DETECTOR_CONFIG, times);
    for (const [a, b] of [[1000, 5], [0.001, -40], [-1, 0]] as const) {
      const s = detectorScores(Float64Array.from(v, (x) => a * x + b), DEFAULT_DETECTOR_CONFIG, times);
      const worst = base.reduce((m, x, i) => Math.max(m, Math.abs(x - s[i]!)), 0);
      assert.ok(worst < 1e-6, `× ${a} + ${b}: scores differ by up to ${worst}`);
    }
  });
  it('Gaussian noise with times, 20,000 steps (69 days): at most a few alarms', () => {
    const rand = gaussianSource(11);
    const st = newDetectorState();
    let flags = 0;
    for (let i = 0; i < 20000; i++) if (detect(st, 20 + rand(), DEFAULT_DETECTOR_CONFIG, 1_700_000_000 + 300 * i).flagged) flags++;
    assert.ok(flags <= 3, `${flags} alarms`);
  });
  // AR(1) noise with an e-folding time of 20 steps (100 min): each hour's level wanders by about
  // its σ from day to day, and stays there for an hour — a drift average of 2 σ comes by itself.
  // Over six series of 69 days the RMS bar keeps the drift to about one alarm a series more than
  // likelihood-v6 raises (measured 23 → 31); without it, 119.
  it('AR(1) noise (φ = 0.95) with times, 6 × 20,000 steps: the profile drift adds about one alarm a series', () => {
    const flags = (config: Readonly<DetectorConfig>) => [3, 5, 11, 17, 23, 29].reduce((sum, seed) => sum + flagsOf(config, seed), 0);
    const flagsOf = (config: Readonly<DetectorConfig>, seed: number) => {
      const rand = gaussianSource(seed);
      const st = newDetectorState();
      let x = 0;
      let n = 0;
      for (let i = 0; i < 20000; i++) if (detect(st, (x = 0.95 * x + rand()), config, 1_700_000_000 + 300 * i).flagged) n++;
      return n;
    };
    const v6 = flags(DETECTORS['likelihood-v6']);
    const v7 = flags(DETECTORS['likelihood-v7']);
    assert.ok(v7 <= v6 + 12, `likelihood-v7 ${v7} alarms, likelihood-v6 ${v6}`);
    const bare = flags({ ...DETECTORS['likelihood-v7'], profileDriftNoise: 0 });
    assert.ok(bare >= v6 + 60, `without the RMS bar the drift alarms on the wander: ${bare}`);
  });
  it('ignores non-finite values; a foreign state is rejected', () => {
    const st = newDetectorState();
    assert.deepEqual(detect(st, NaN), { score: 0, flagged: false, anomalous: false });
    assert.equal(st.n, 0);
    assert.equal(isDetectorState({ v: 2 }), false);
    // A likelihood-v1 state (v 2, no contexts) starts over.
    const { ctx: _c, seen: _s, ...v1 } = newDetectorState();
    assert.equal(isDetectorState({ ...v1, v: 2 }), false);
    assert.equal(isDetectorState({ ...newDetectorState(), head: 5 }), false);
    // A likelihood-v2 state (v 3, no record stay) starts over too.
    const { band: _b, stay: _st, longest: _l, ...v2 } = newDetectorState();
    assert.equal(isDetectorState({ ...v2, v: 3 }), false);
    assert.equal(isDetectorState({ ...newDetectorState(), longest: [1.5] }), false);
    // A likelihood-v3 state (v 4, no time-of-day profile) starts over.
    const { prof: _p, t0: _t, vs: _vs, ...v3 } = newDetectorState();
    assert.equal(isDetectorState({ ...v3, v: 4 }), false);
    assert.equal(isDetectorState({ ...newDetectorState(), prof: [NaN] }), false);
    // A likelihood-v4 state (v 5, no profile alarm flag) starts over.
    const { away: _a, ...v4 } = newDetectorState();
    assert.equal(isDetectorState({ ...v4, v: 5 }), false);
    // A likelihood-v5 state (v 6, no peak deviation) starts over.
    const { pk: _pk, ...v5 } = newDetectorState();
    assert.equal(isDetectorState({ ...v5, v: 6 }), false);
    assert.equal(isDetectorState({ ...newDetectorState(), pk: -1 }), false);
    // A likelihood-v6 state (v 7, no drift) starts over.
    const { drift: _d, driftAway: _da, driftPeak: _dp, ...v6 } = newDetectorState();
    assert.equal(isDetectorState({ ...v6, v: 7 }), false);
    assert.equal(isDetectorState({ ...newDetectorState(), drift: NaN }), false);
  });
  it('eval:nab on the fixture prints one line per profile and the summary line last', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/nab.ts', '--data', FIXTURE], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    for (const p of NAB_PROFILES) assert.ok(lines.some((l) => l.startsWith(p.name)), r.stdout);
    const m = /^eval:nab standard=(-?[\d.]+) low_fp=(-?[\d.]+) low_fn=(-?[\d.]+) files=2$/.exec(lines.at(-1)!);
    assert.ok(m, r.stdout);
    assert.ok(Number(m[1]) > 50, r.stdout);
    // --verbose: one line per window (the fixture's two files hold four), found or missed.
    const v = spawnSync(process.execPath, ['--import', 'tsx', 'bench/nab.ts', '--data', FIXTURE, '--verbose'], { encoding: 'utf8' });
    const windowLines = v.stdout.split('\n').filter((l) => l.trim().startsWith('window rows'));
    assert.equal(windowLines.length, 4, v.stdout);
    assert.ok(windowLines.every((l) => /: (found at row \d+ \(position [01]\.\d\d\)|missed); highest score [01]\.\d{3} at row \d+$/.test(l)), v.stdout);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'bench/nab.ts'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
  });
  it('leave one family out: threshold chosen on the other families, the held-out family scored at it (hand-worked)', () => {
    // Two families, one window each over rows 10–19 (20 rows: probation is 3 rows). Family a's
    // window scores 0.9 at row 15, family b's 0.6 at row 15 and b has a 0.7 outside its window (row 5).
    const file = (name: string, at: [number, number][]): NabFile => {
      const scores = new Float64Array(20);
      for (const [r, s] of at) scores[r] = s;
      return { name, scores, windows: [[10, 19]] };
    };
    const a = file('a/x.csv', [[15, 0.9]]);
    const b = file('b/y.csv', [[5, 0.7], [15, 0.6]]);
    // Held out a: b alone is best at 0.6 (its window found; the 0.7 costs 0.11) → a scored at 0.6: found.
    // Held out b: a alone is best at 0.9 → b at 0.9: missed (−1).
    const r = leaveGroupOut([[a, b]], ['a', 'b'], standard);
    assert.deepEqual(r.held.map((h) => [h.group, h.threshold]), [['a', 0.6], ['b', 0.9]]);
    const tpAt15 = scoreFile(a, 0.5, standard).score; // the value of a detection at row 15 of a 10-row window
    near(r.held[0]!.raw, tpAt15);
    near(r.held[1]!.raw, -1);
    near(r.normalized, normalizeNab(tpAt15 - 1, [a, b], standard));
    // A second candidate that finds b's window without its false positive is chosen when b is held in.
    const b2 = file('b/y.csv', [[15, 0.95]]);
    const r2 = leaveGroupOut([[a, b], [a, b2]], ['a', 'b'], standard);
    assert.equal(r2.held[0]!.candidate, 1);
    assert.equal(lofoGroup('artificialNoAnomaly'), 'artificial');
    assert.equal(lofoGroup('realTweets'), 'realTweets');
  });
  it('eval:nab data folders: several as one corpus, a duplicate file refused, relative folders found from the parents; settings parsed', () => {
    assert.throws(() => loadNabDirs([FIXTURE, FIXTURE]), /is in both/);
    assert.equal(loadNabDirs([FIXTURE]).length, 2);
    assert.deepEqual(loadNabDirs([FIXTURE]).map((s) => s.family), ['realAWSCloudwatch', 'realAWSCloudwatch']);
    // From test/fixtures/nab/data the folder 'fixtures/nab' is two parents up.
    assert.equal(resolveDataDir('fixtures/nab', `${FIXTURE}/data`), FIXTURE);
    assert.deepEqual(parseSettings(['threshold=0.7,0.9', 'stayBands=0']), [{ threshold: 0.7, stayBands: 0 }, { threshold: 0.9, stayBands: 0 }]);
    assert.throws(() => parseSettings(['nope=1']), /key one of/);
    assert.throws(() => parseSettings(['threshold=high']), /not a number/);
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/nab.ts', '--data', `${FIXTURE},${FIXTURE}`], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is in both/);
    const l = spawnSync(process.execPath, ['--import', 'tsx', 'bench/nab.ts', '--data', FIXTURE, '--lofo'], { encoding: 'utf8' });
    assert.equal(l.status, 0, l.stderr);
    assert.match(l.stdout, /^realAWSCloudwatch +2 +4 /m);
    assert.equal(l.stdout.split('\n').filter((x) => x.startsWith('leave-one-family-out ')).length, 3);
  });
});

describe('parseSince', () => {
  it('durations, unix seconds, ISO times; rejects the rest', () => {
    assert.equal(parseSince('30m', 10_000), 10_000 - 1800);
    assert.equal(parseSince('7d', 1_000_000), 1_000_000 - 604_800);
    assert.equal(parseSince('1790000000', 0), 1_790_000_000);
    assert.equal(parseSince('2026-11-29T08:00:00Z', 0), Date.UTC(2026, 10, 29, 8) / 1000);
    assert.equal(parseSince('2026-11-29', 0), Date.UTC(2026, 10, 29) / 1000);
    for (const bad of ['', 'yesterday', '5y', '-3h', '2026-13-45x']) assert.throws(() => parseSince(bad, 0), /not a duration/);
  });
});

describe('detectAnomalies over the store', () => {
  const T0 = 1_790_000_000;
  const spec = (name: string, vars: Record<string, unknown> = {}): NodeSpec => ({ name, groups: [], vars, connection: 'ssh', host: name, port: 22 });
  function write(db: Db, node: string, t: number, celsius: number, diskPercent: number) {
    readingsWriter(db).writeRound(
      [
        {
          node,
          timeUnixSeconds: t,
          temperature: [{ sensor: 'thermal_zone0', type: 'cpu-thermal', source: 'thermal_zone', celsius }],
          storage: [{ mountPoint: '/', device: '/dev/sda1', fsType: 'ext4', totalBytes: 100, usedBytes: diskPercent, availableBytes: 100 - diskPercent, usedPercent: diskPercent }],
        },
      ],
      [],
      [],
    );
  }

  it('episodes from the detector (on every raw sample) and the rules; cursors and state survive a new connection', async () => {
    const db = openDb(':memory:');
    syncNodes(db, [spec('a', { edgefleet_temp_max_celsius: '70' }), spec('b')], T0);
    // 400 quiet samples, then node a's temperature jumps to 75 °C (over its 70 °C) for 5 samples, disk 95 % from sample 420.
    let rng = 11;
    const noise = () => ((rng = (rng * 16807) % 2147483647) / 2147483647 - 0.5);
    for (let i = 0; i < 400; i++) {
      write(db, 'a', T0 + i * 10, 45 + noise(), 50);
      write(db, 'b', T0 + i * 10, 45 + noise(), 50);
    }
    const first = await detectAnomalies({ db, nowUnixSeconds: T0 + 4000, backlogSeconds: 10_000, stepSeconds: 0 });
    // 2 nodes × 400 samples × (temperature + storage used_percent, used_bytes, total_bytes).
    assert.equal(first.samples, 2 * 400 * 4);
    assert.equal((await listAnomalies(db)).filter((a) => a.detector === 'rule').length, 0);
    const again = await detectAnomalies({ db, nowUnixSeconds: T0 + 4000, stepSeconds: 0 });
    assert.equal(again.samples, 0, 'nothing new: nothing scored twice');

    for (let i = 400; i < 430; i++) write(db, 'a', T0 + i * 10, (i >= 410 && i < 415 ? 75 : 45) + noise(), i >= 420 ? 95 : 50);
    recordOutcomes(db, [{ name: 'b', status: 'unreachable', error: 'connect timeout' }], T0 + 4200);
    const second = await detectAnomalies({ db, nowUnixSeconds: T0 + 4300, stepSeconds: 0 });
    // 30 samples × (temperature + storage.used_percent, used_bytes, total_bytes).
    assert.equal(second.samples, 30 * 4);
    const all = await listAnomalies(db);
    const hot = all.find((x) => x.kind === 'temperature_high')!;
    assert.ok(hot, JSON.stringify(all, null, 1));
    assert.deepEqual([hot.node, hot.label, hot.startUnixSeconds, hot.endUnixSeconds, hot.samples], ['a', 'thermal_zone0', T0 + 4100, T0 + 4140, 5]);
    assert.match(hot.message, /over 70 °C/);
    const disk = all.find((x) => x.kind === 'disk_full')!;
    assert.deepEqual([disk.startUnixSeconds, disk.endUnixSeconds, disk.samples, disk.peakValue], [T0 + 4200, null, 10, 95]);
    const jump = all.find((x) => x.detector !== 'rule' && x.series === 'temperature.celsius')!;
    assert.ok(jump && jump.startUnixSeconds === T0 + 4100, JSON.stringify(all, null, 1));
    const down = all.find((x) => x.kind === 'unreachable')!;
    assert.deepEqual([down.node, down.endUnixSeconds], ['b', null]);
    assert.ok(all.filter((x) => x.node === 'b' && x.detector !== 'rule').length === 0, 'no detector episode on a quiet node');

    // The disk frees up and b comes back: both episodes close.
    write(db, 'a', T0 + 4300, 45, 60);
    recordOutcomes(db, [{ name: 'b', status: 'up', seenUnixSeconds: T0 + 4310 }], T0 + 4310);
    await detectAnomalies({ db, nowUnixSeconds: T0 + 4320, stepSeconds: 0 });
    const after = await listAnomalies(db);
    assert.equal(after.find((x) => x.kind === 'disk_full')!.endUnixSeconds, T0 + 4290);
    assert.equal(after.find((x) => x.kind === 'unreachable')!.endUnixSeconds, T0 + 4300);
    assert.deepEqual((await listAnomalies(db, { open: true })).filter((x) => x.detector === 'rule'), []);
    assert.deepEqual((await listAnomalies(db, { node: 'b' })).map((x) => x.kind), ['unreachable']);
    // Only the disk's level shift is still open (60 % is still far from the 50 % it held for 400
    // samples): an open episode reaches any later time. Everything else ended before T0 + 5000.
    const late = await listAnomalies(db, { sinceUnixSeconds: T0 + 5000 });
    assert.ok(late.every((x) => x.detector !== 'rule' && x.series.startsWith('storage.') && x.startUnixSeconds === T0 + 4200 && x.endUnixSeconds === null), JSON.stringify(late));
    db.close();
  });

  it('detect.detector: episodes and states under its name; another detector restarts learning, reading on from the cursor', async () => {
    const db = openDb(':memory:');
    syncNodes(db, [spec('a')], T0);
    let rng = 13;
    const noise = () => ((rng = (rng * 16807) % 2147483647) / 2147483647 - 0.5);
    // 400 quiet samples, a jump to 75 °C at samples 410–414; scored every raw sample by likelihood-v4.
    for (let i = 0; i < 430; i++) write(db, 'a', T0 + i * 10, (i >= 410 && i < 415 ? 75 : 45) + noise(), 50);
    await detectAnomalies({ db, nowUnixSeconds: T0 + 4300, backlogSeconds: 10_000, stepSeconds: 0, detector: 'likelihood-v4', config: DETECTORS['likelihood-v4'] });
    const v4 = (await listAnomalies(db)).filter((x) => x.detector !== 'rule' && x.series === 'temperature.celsius');
    assert.deepEqual(v4.map((x) => [x.detector, x.startUnixSeconds]), [['likelihood-v4', T0 + 4100]]);
    // The hub switches to the default (likelihood-v8): the stored v4 states are not read, so each series learns
    // again from its next sample (430): the same jump 70 samples later is still inside the 150 it learns from.
    for (let i = 430; i < 520; i++) write(db, 'a', T0 + i * 10, (i >= 500 && i < 505 ? 75 : 45) + noise(), 50);
    const run = await detectAnomalies({ db, nowUnixSeconds: T0 + 5200, stepSeconds: 0 });
    assert.equal(run.samples, 90 * 4, 'read on from the cursor: nothing read twice');
    assert.deepEqual((await listAnomalies(db)).filter((x) => x.detector === 'likelihood-v8'), []);
    const node = listNodes(db).find((n) => n.name === 'a')!;
    const states = [...(await anomalyStore(db).detectorStates(node.id)).values()];
    // Each state has seen the 90 samples since the switch, not the 520 since the start.
    assert.deepEqual(states.map((s) => [s.detector, isSeriesState(s.state(), 0) && (s.state() as { detector: DetectorState }).detector.n]), Array(4).fill(['likelihood-v8', 90]));
    // From edgefleet.yaml or the environment; a detector that does not exist is refused with the names that do.
    assert.equal(loadConfig({ env: {}, cwd: '/nonexistent' }).detect.detector, 'likelihood-v8');
    assert.equal(loadConfig({ env: { EDGEFLEET_DETECT_DETECTOR: 'likelihood-v4' }, cwd: '/nonexistent' }).detect.detector, 'likelihood-v4');
    assert.throws(() => loadConfig({ env: { EDGEFLEET_DETECT_DETECTOR: 'likelihood-v9' }, cwd: '/nonexistent' }), /detect\.detector.*likelihood-v8, likelihood-v7, likelihood-v6, likelihood-v5, likelihood-v4/);
    db.close();
  });
  it('steps: the detector scores 5-minute means; runs split anywhere give the same episodes', async () => {
    // One node, a 10-second temperature: 16 h at 45 ± 0.5 °C (192 steps: past the 150-step
    // warm-up), then 40 minutes at 60 °C, then 45 again.
    const steps = 300;
    const samples = (16 * 3600 + 2400 + 1800) / 10;
    const celsius = (i: number) => {
      const t = i * 10;
      return (t >= 16 * 3600 && t < 16 * 3600 + 2400 ? 60 : 45) + Math.sin(i * 1.7) * 0.5;
    };
    const T = 1_790_000_100 - (1_790_000_100 % steps); // a step boundary
    const fill = (db: Db, from: number, to: number) => {
      for (let i = from; i < to; i++) write(db, 'a', T + i * 10, celsius(i), 50);
    };
    const episodes = async (db: Db) => (await listAnomalies(db)).filter((x) => x.detector !== 'rule').map((x) => [x.series, x.startUnixSeconds, x.endUnixSeconds, x.samples]);

    const whole = openDb(':memory:');
    syncNodes(whole, [spec('a')], T);
    fill(whole, 0, samples);
    const once = await detectAnomalies({ db: whole, nowUnixSeconds: T + samples * 10, backlogSeconds: 86_400 });
    assert.equal(once.samples, samples * 4, 'every raw sample read (and checked by the rules)');
    // 4 series, one step scored per step completed (the last, still filling, waits).
    assert.equal(once.steps, 4 * (samples / 30 - 1));
    const found = await episodes(whole);
    const hot = found.filter(([series]) => series === 'temperature.celsius');
    assert.equal(hot.length, 1, JSON.stringify(found));
    // The jump's first step is timed at its newest sample: 16 h + 290 s.
    assert.equal(hot[0]![1], T + 16 * 3600 + 290);

    // The same data with a run every 7 minutes (mid-step): the partial step waits in the state.
    const split = openDb(':memory:');
    syncNodes(split, [spec('a')], T);
    let done = 0;
    for (let to = 42; done < samples; to += 42) {
      fill(split, done, Math.min(to, samples));
      done = Math.min(to, samples);
      await detectAnomalies({ db: split, nowUnixSeconds: T + done * 10, backlogSeconds: 86_400 });
    }
    assert.deepEqual(await episodes(split), found);
    whole.close();
    split.close();
  });

  it('steps: means on boundaries aligned to the epoch, timed at their newest sample; 0 passes samples through', () => {
    const s = newSeriesState(60);
    assert.equal(addSample(s, 1000, 1), null); // step 960–1019
    assert.equal(addSample(s, 1010, 3), null);
    assert.deepEqual(addSample(s, 1020, 10), { timeUnixSeconds: 1010, value: 2 });
    // A gap: the step 1020–1079 closes when 1200 arrives, and nothing is made up for the ones between.
    assert.deepEqual(addSample(s, 1200, 7), { timeUnixSeconds: 1020, value: 10 });
    assert.ok(isSeriesState(JSON.parse(JSON.stringify(s)), 60));
    assert.equal(isSeriesState(s, 300), false, 'a state for another step length starts over');
    assert.equal(isSeriesState({ ...s, partial: { startUnixSeconds: 0, sum: 1, count: 0, lastUnixSeconds: 0 } }, 60), false);
    assert.deepEqual(addSample(newSeriesState(0), 5, 1.5), { timeUnixSeconds: 5, value: 1.5 });
    // From edgefleet.yaml or the environment; a negative step is refused, not guessed at.
    assert.equal(loadConfig({ env: {}, cwd: '/nonexistent' }).detect.stepSeconds, 300);
    assert.equal(loadConfig({ env: { EDGEFLEET_DETECT_STEP_SECONDS: '60' }, cwd: '/nonexistent' }).detect.stepSeconds, 60);
    assert.throws(() => checkStepSeconds(-60), /detect\.stepSeconds must be a number ≥ 0/);
  });

  it('temperature threshold var', () => {
    assert.equal(tempMaxCelsius({}), 85);
    assert.equal(tempMaxCelsius({ edgefleet_temp_max_celsius: 70 }), 70);
    assert.equal(tempMaxCelsius({ edgefleet_temp_max_celsius: '72.5' }), 72.5);
    assert.equal(tempMaxCelsius({ edgefleet_temp_max_celsius: 'hot' }), 85);
  });
});
