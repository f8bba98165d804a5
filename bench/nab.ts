/**
 * `npm run eval:nab -- --data DIR [--json] [--verbose] [--loo]`: run the anomaly detector over Numenta
 * Anomaly Benchmark CSV files (DIR/data/**.csv, labels in DIR/labels/combined_windows.json) and
 * score it with NAB's scoring (shared/detect/nab.ts), the threshold optimised over the files per
 * profile. Also prints the score at the detector's own fixed threshold — what the hub uses.
 * `--verbose`: per file its raw score and, per window, the earliest detection or how close a miss
 * came, and the rows of false positives (at the standard profile's optimum).
 * `--loo`: also leave-one-out per profile — the threshold optimised on the other files, the
 * held-out file scored at it, the held-out raw scores summed and normalised over all files (how
 * the threshold transfers to a series it was not chosen on) — and the standard score at fixed
 * thresholds around the optimum (how flat it is).
 * The last line: `eval:nab standard=<score> low_fp=<score> low_fn=<score> files=<n>`.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DETECTOR_CONFIG, DETECTOR_NAME, detect, newDetectorState } from '../shared/detect/detector.js';
import { NAB_PROFILES, normalizeNab, optimizeThreshold, parseNabCsv, scoreFile, scoreNab, windowReport, windowRows, type NabFile, type NabProfile } from '../shared/detect/nab.js';

export function loadNab(dir: string): { name: string; values: Float64Array; windows: [number, number][] }[] {
  const labelsFile = join(dir, 'labels', 'combined_windows.json');
  const labels = JSON.parse(readFileSync(labelsFile, 'utf8')) as Record<string, [string, string][]>;
  const out: { name: string; values: Float64Array; windows: [number, number][] }[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.csv')) {
        const name = relative(join(dir, 'data'), p).split(sep).join('/');
        const { timestamps, values } = parseNabCsv(readFileSync(p, 'utf8'), name);
        const w = labels[name];
        if (!w) throw new Error(`${labelsFile}: no windows for ${name}`);
        out.push({ name, values, windows: windowRows(timestamps, w, name) });
      }
    }
  };
  walk(join(dir, 'data'));
  return out;
}

export function detectorScores(values: Float64Array): Float64Array {
  const state = newDetectorState();
  return Float64Array.from(values, (v) => detect(state, v).score);
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

function main(): number {
  const { values: o } = parseArgs({ options: { data: { type: 'string' }, json: { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' }, loo: { type: 'boolean' } } });
  if (!o.data) {
    process.stderr.write('usage: npm run eval:nab -- --data DIR   (DIR holds data/**/*.csv and labels/combined_windows.json)\n');
    return 1;
  }
  const series = loadNab(o.data);
  if (series.length === 0) throw new Error(`${o.data}/data: no CSV files`);
  const t0 = performance.now();
  const files: NabFile[] = series.map((s) => ({ name: s.name, windows: s.windows, scores: detectorScores(s.values) }));
  const ms = performance.now() - t0;
  const results = NAB_PROFILES.map((p) => ({ optimized: scoreNab(files, p), fixed: scoreNab(files, p, DEFAULT_DETECTOR_CONFIG.threshold) }));
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
  process.stdout.write(`detector ${DETECTOR_NAME}: ${series.length} files, ${samples} samples, ${results[0]!.optimized.windows} windows, ${((ms * 1e6) / samples).toFixed(0)} ns/sample\n`);
  for (const { optimized: r, fixed: f } of results) {
    process.stdout.write(
      `${r.profile.padEnd(19)} ${r.normalized.toFixed(1).padStart(5)}  (threshold ${r.threshold.toFixed(4)}: tp=${r.truePositives} fn=${r.falseNegatives} fp=${r.falsePositives}; ` +
        `at the detector's fixed threshold ${f.threshold}: ${f.normalized.toFixed(1)})\n`,
    );
  }
  if (o.loo) {
    for (const p of NAB_PROFILES) {
      const l = leaveOneOut(files, p);
      process.stdout.write(`leave-one-out ${p.name.padEnd(19)} ${l.normalized.toFixed(1).padStart(5)}  (thresholds ${Math.min(...l.thresholds).toFixed(4)}–${Math.max(...l.thresholds).toFixed(4)})\n`);
    }
    const t0 = results[0]!.optimized.threshold;
    const at = [-0.1, -0.05, -0.02, 0, 0.02, 0.05, 0.1].map((d) => `${(t0 + d).toFixed(3)}: ${scoreNab(files, NAB_PROFILES[0], t0 + d).normalized.toFixed(1)}`);
    process.stdout.write(`standard around the optimum  ${at.join('  ')}\n`);
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
