/**
 * `npm run eval:nab -- --data DIR [--data DIR2 | --data DIR,DIR2] [--json] [--verbose] [--loo] [--lofo]
 *  [--set key=value]… [--grid key=v1,v2]…`: run the anomaly detector over Numenta Anomaly Benchmark
 * CSV files (DIR/data/**.csv, labels in DIR/labels/combined_windows.json) and score it with NAB's
 * scoring (shared/detect/nab.ts). Several folders are scored as one corpus, as NAB does: one
 * threshold per profile over all files, normalised over all their windows.
 *
 * Prints, per profile, the score at the threshold optimised over the files and at the detector's
 * own fixed threshold (what the hub uses); per family (the NAB folder of a file) the score and the
 * windows found / missed and false positives at the standard optimum.
 * `--lofo`: leave one family out (artificialNoAnomaly and artificialWithAnomaly are one family,
 * "artificial"): everything tuned — the threshold and, with `--grid`, the detector's settings — is
 * chosen on five families and the sixth is scored with it; the six held-out raw scores are summed
 * and normalised over all files. `--loo`: the same per file, threshold only, and the standard
 * score at fixed thresholds around the optimum (how flat it is).
 * `--set key=value`: a detector setting other than its default; `--grid key=v1,v2`: candidates
 * for `--lofo` (every combination; the in-sample line reports the best of them).
 * `--verbose`: per file its raw score and, per window, the earliest detection or how close a miss
 * came, and the rows of false positives (at the standard profile's optimum).
 * The last line: `eval:nab standard=<score> low_fp=<score> low_fn=<score> files=<n>`.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DETECTOR_CONFIG, DETECTOR_NAME, detect, newDetectorState, type DetectorConfig } from '../shared/detect/detector.js';
import { NAB_PROFILES, nabUnixSeconds, normalizeNab, optimizeThreshold, parseNabCsv, scoreFile, scoreNab, windowReport, windowRows, type NabFile, type NabProfile } from '../shared/detect/nab.js';

export interface NabSeries {
  /** Path under data/, e.g. `realTweets/Twitter_volume_AAPL.csv`. */
  name: string;
  /** The NAB folder of the file (its first path segment). */
  family: string;
  values: Float64Array;
  /** Unix seconds of each row. */
  times: Float64Array;
  windows: [number, number][];
}

/**
 * A data folder as given; a relative one that is not under the working directory is looked up
 * from its parents (`../shared/data/nab` is written for a checkout beside shared/, and a worktree
 * may sit a level deeper).
 */
export function resolveDataDir(dir: string, cwd = process.cwd()): string {
  const direct = resolve(cwd, dir);
  if (existsSync(direct) || isAbsolute(dir)) return direct;
  for (let d = dirname(cwd); ; d = dirname(d)) {
    const p = resolve(d, dir);
    if (existsSync(p)) return p;
    if (dirname(d) === d) return direct;
  }
}

export function loadNab(dir: string): NabSeries[] {
  const labelsFile = join(dir, 'labels', 'combined_windows.json');
  if (!existsSync(labelsFile)) throw new Error(`${dir}: not a NAB folder (no labels/combined_windows.json)`);
  const labels = JSON.parse(readFileSync(labelsFile, 'utf8')) as Record<string, [string, string][]>;
  const out: NabSeries[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.csv')) {
        const name = relative(join(dir, 'data'), p).split(sep).join('/');
        const { timestamps, values } = parseNabCsv(readFileSync(p, 'utf8'), name);
        const w = labels[name];
        if (!w) throw new Error(`${labelsFile}: no windows for ${name}`);
        out.push({ name, family: name.includes('/') ? name.slice(0, name.indexOf('/')) : '.', values, times: Float64Array.from(timestamps, nabUnixSeconds), windows: windowRows(timestamps, w, name) });
      }
    }
  };
  walk(join(dir, 'data'));
  return out;
}

/** Several folders as one corpus; a file in two of them is an error (it would count twice). */
export function loadNabDirs(dirs: readonly string[]): NabSeries[] {
  const all: NabSeries[] = [];
  const seen = new Map<string, string>();
  for (const dir of dirs) {
    const series = loadNab(dir);
    if (series.length === 0) throw new Error(`${dir}/data: no CSV files`);
    for (const s of series) {
      const other = seen.get(s.name);
      if (other) throw new Error(`${s.name} is in both ${other} and ${dir}`);
      seen.set(s.name, dir);
      all.push(s);
    }
  }
  return all;
}

/** The families left out one at a time: NAB's folders, the two artificial ones together. */
export function lofoGroup(family: string): string {
  return family.startsWith('artificial') ? 'artificial' : family;
}

export function detectorScores(values: Float64Array, config: Readonly<DetectorConfig> = DEFAULT_DETECTOR_CONFIG, times?: Float64Array): Float64Array {
  const state = newDetectorState();
  return Float64Array.from(values, (v, i) => detect(state, v, config, times?.[i]).score);
}

/** Leave-one-out: each file scored at the threshold optimised on the others; normalised over all files. */
export function leaveOneOut(files: readonly NabFile[], profile: NabProfile): { normalized: number; thresholds: number[] } {
  let raw = 0;
  const thresholds: number[] = [];
  files.forEach((f, i) => {
    const t = optimizeThreshold(files.filter((_, j) => j !== i), profile).threshold;
    thresholds.push(t);
    raw += scoreFile(f, t, profile).score;
  });
  return { normalized: normalizeNab(raw, files, profile), thresholds };
}

export interface LofoResult {
  normalized: number;
  /** Per held-out group: the candidate chosen on the others (index into the candidates), its threshold, the group's score at it. */
  held: { group: string; candidate: number; threshold: number; normalized: number; raw: number }[];
}

/**
 * Leave one group out: `candidates[c]` holds the scored files of detector setting c (same files,
 * same order). For each group, the setting and threshold with the best raw score on the other
 * groups are chosen and the group is scored with them; the held-out raw scores are summed and
 * normalised over all files. With one candidate only the threshold is tuned.
 */
export function leaveGroupOut(candidates: readonly (readonly NabFile[])[], groupOf: readonly string[], profile: NabProfile): LofoResult {
  const groups = [...new Set(groupOf)];
  const held: LofoResult['held'] = [];
  let raw = 0;
  for (const g of groups) {
    let best = { candidate: 0, threshold: 1, raw: -Infinity };
    candidates.forEach((files, c) => {
      const o = optimizeThreshold(files.filter((_, i) => groupOf[i] !== g), profile);
      if (o.raw > best.raw + 1e-12) best = { candidate: c, threshold: o.threshold, raw: o.raw };
    });
    const out = candidates[best.candidate]!.filter((_, i) => groupOf[i] === g);
    const r = out.reduce((a, f) => a + scoreFile(f, best.threshold, profile).score, 0);
    raw += r;
    held.push({ group: g, candidate: best.candidate, threshold: best.threshold, normalized: normalizeNab(r, out, profile), raw: r });
  }
  return { normalized: normalizeNab(raw, candidates[0]!, profile), held };
}

/** `key=value` settings over the defaults; unknown keys and non-numbers are errors. */
export function parseSettings(pairs: readonly string[]): Partial<DetectorConfig>[] {
  // Each pair is key=v1,v2,…: the cartesian product of all of them.
  let out: Partial<DetectorConfig>[] = [{}];
  for (const p of pairs) {
    const eq = p.indexOf('=');
    const key = p.slice(0, eq) as keyof DetectorConfig;
    if (eq < 0 || !(key in DEFAULT_DETECTOR_CONFIG)) throw new Error(`--set/--grid ${p}: expected key=value with key one of ${Object.keys(DEFAULT_DETECTOR_CONFIG).join(', ')}`);
    const values = p.slice(eq + 1).split(',').map((v) => {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`--set/--grid ${p}: ${JSON.stringify(v)} is not a number`);
      return n;
    });
    out = out.flatMap((o) => values.map((v) => ({ ...o, [key]: v })));
  }
  return out;
}

const describe = (c: Partial<DetectorConfig>) => Object.entries(c).map(([k, v]) => `${k}=${v}`).join(' ') || 'defaults';

function familyTable(series: readonly NabSeries[], files: readonly NabFile[], optimum: number, fixed: number): string[] {
  const p = NAB_PROFILES[0];
  const lines = [`${'family'.padEnd(22)} files windows  found missed  fp   standard (at ${optimum.toFixed(4)} / at ${fixed})`];
  for (const fam of [...new Set(series.map((s) => s.family))]) {
    const fs = files.filter((_, i) => series[i]!.family === fam);
    const o = scoreNab(fs, p, optimum);
    const f = scoreNab(fs, p, fixed);
    const score = (r: typeof o) => (o.windows ? r.normalized.toFixed(1) : `${r.raw.toFixed(2)} raw`);
    lines.push(`${fam.padEnd(22)} ${String(fs.length).padStart(5)} ${String(o.windows).padStart(7)} ${String(o.truePositives).padStart(6)} ${String(o.falseNegatives).padStart(6)} ${String(o.falsePositives).padStart(3)}   ${score(o)} / ${score(f)}`);
  }
  return lines;
}

function main(): number {
  const { values: o } = parseArgs({
    options: {
      data: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v' },
      loo: { type: 'boolean' },
      lofo: { type: 'boolean' },
      set: { type: 'string', multiple: true },
      grid: { type: 'string', multiple: true },
    },
  });
  const dirs = (o.data ?? []).flatMap((d) => d.split(',')).filter((d) => d.trim() !== '');
  if (dirs.length === 0) {
    process.stderr.write('usage: npm run eval:nab -- --data DIR [--data DIR2…] [--lofo] [--loo] [--verbose]   (DIR holds data/**/*.csv and labels/combined_windows.json)\n');
    return 1;
  }
  const base = { ...DEFAULT_DETECTOR_CONFIG, ...parseSettings(o.set ?? [])[0] };
  if ((o.set ?? []).some((s) => s.includes(','))) throw new Error('--set takes one value per key (candidates: --grid)');
  const grid = parseSettings(o.grid ?? []);
  const series = loadNabDirs(dirs.map((d) => resolveDataDir(d)));
  const t0 = performance.now();
  const files: NabFile[] = series.map((s) => ({ name: s.name, windows: s.windows, scores: detectorScores(s.values, base, s.times) }));
  const ms = performance.now() - t0;
  const threshold = base.threshold;
  const results = NAB_PROFILES.map((p) => ({ optimized: scoreNab(files, p), fixed: scoreNab(files, p, threshold) }));
  if (o.json) {
    process.stdout.write(JSON.stringify(results.map((r) => ({ ...r.optimized, fixedThreshold: { threshold: r.fixed.threshold, normalized: r.fixed.normalized } })), null, 2) + '\n');
  }
  if (o.verbose) {
    // At the standard profile's optimum: per file its raw score, per window the earliest detection
    // (position 0 = the window's first row) or how close a miss came, and the false positives.
    const t = results[0]!.optimized.threshold;
    results[0]!.optimized.perFile.forEach((f, i) => {
      process.stdout.write(`  ${f.name.padEnd(58)} ${f.score.toFixed(3).padStart(7)}  tp=${f.truePositives} fn=${f.falseNegatives} fp=${f.falsePositives}\n`);
      const r = windowReport(files[i]!, t);
      for (const w of r.windows) {
        const found = w.detectedRow >= 0 ? `found at row ${w.detectedRow} (position ${w.position!.toFixed(2)})` : 'missed';
        process.stdout.write(`    window rows ${w.first}–${w.last}: ${found}; highest score ${w.maxScore.toFixed(3)} at row ${w.maxRow}\n`);
      }
      if (r.falsePositiveRows.length) process.stdout.write(`    false positives at rows ${r.falsePositiveRows.join(' ')}\n`);
    });
  }
  const samples = series.reduce((a, s) => a + s.values.length, 0);
  const settings = o.set?.length ? ` (${describe(parseSettings(o.set)[0]!)})` : '';
  process.stdout.write(`detector ${DETECTOR_NAME}${settings}: ${series.length} files, ${samples} samples, ${results[0]!.optimized.windows} windows, ${((ms * 1e6) / samples).toFixed(0)} ns/sample\n`);
  for (const { optimized: r, fixed: f } of results) {
    process.stdout.write(
      `${r.profile.padEnd(19)} ${r.normalized.toFixed(1).padStart(5)}  (threshold ${r.threshold.toFixed(4)}: tp=${r.truePositives} fn=${r.falseNegatives} fp=${r.falsePositives}; ` +
        `at the detector's fixed threshold ${f.threshold}: ${f.normalized.toFixed(1)}, tp=${f.truePositives} fp=${f.falsePositives})\n`,
    );
  }
  for (const l of familyTable(series, files, results[0]!.optimized.threshold, threshold)) process.stdout.write(l + '\n');
  if (o.loo) {
    for (const p of NAB_PROFILES) {
      const l = leaveOneOut(files, p);
      process.stdout.write(`leave-one-out ${p.name.padEnd(19)} ${l.normalized.toFixed(1).padStart(5)}  (thresholds ${Math.min(...l.thresholds).toFixed(4)}–${Math.max(...l.thresholds).toFixed(4)})\n`);
    }
    const t0 = results[0]!.optimized.threshold;
    const at = [-0.1, -0.05, -0.02, 0, 0.02, 0.05, 0.1].map((d) => `${(t0 + d).toFixed(3)}: ${scoreNab(files, NAB_PROFILES[0], t0 + d).normalized.toFixed(1)}`);
    process.stdout.write(`standard around the optimum  ${at.join('  ')}\n`);
  }
  if (o.lofo) {
    const groupOf = series.map((s) => lofoGroup(s.family));
    // Every candidate's scores (the base setting alone without --grid).
    const candidates = grid.length > 1 || (o.grid ?? []).length ? grid.map((g) => ({ ...base, ...g })) : [base];
    const scored = candidates.length === 1 ? [files] : candidates.map((c) => series.map((s) => ({ name: s.name, windows: s.windows, scores: detectorScores(s.values, c, s.times) })));
    for (const p of NAB_PROFILES) {
      const l = leaveGroupOut(scored, groupOf, p);
      const inSample = Math.max(...scored.map((fs) => scoreNab(fs, p).normalized));
      const fixed = scoreNab(files, p, threshold).normalized;
      process.stdout.write(
        `leave-one-family-out ${p.name.padEnd(19)} ${l.normalized.toFixed(1).padStart(5)}  (in-sample ${inSample.toFixed(1)}, fixed threshold ${fixed.toFixed(1)}; held out: ` +
          l.held.map((h) => `${h.group} ${h.normalized.toFixed(1)} at ${h.threshold.toFixed(4)}${candidates.length > 1 ? ` [${describe(grid[h.candidate]!)}]` : ''}`).join(', ') +
          ')\n',
      );
    }
  }
  const [std, lowFp, lowFn] = results.map((r) => r.optimized.normalized.toFixed(1));
  process.stdout.write(`eval:nab standard=${std} low_fp=${lowFp} low_fn=${lowFn} files=${series.length}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    process.exitCode = main();
  } catch (e) {
    process.stderr.write(`eval:nab: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
