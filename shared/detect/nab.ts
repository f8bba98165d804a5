/**
 * The Numenta Anomaly Benchmark's scoring, reimplemented from its published description
 * (Lavin & Ahmad 2015, "Evaluating Real-time Anomaly Detection Algorithms — the Numenta Anomaly
 * Benchmark"; Ahmad et al. 2017) and NAB's README: windows around each labelled anomaly, a
 * scaled sigmoid over the position of a detection, three application profiles, one threshold
 * per detector and profile for the whole corpus, normalised between the null and the perfect
 * detector. Pure: no I/O; the files are read by `bench/nab.ts`.
 */

/** Weights of an application profile: a true positive earns up to `tp`, a false positive costs up to `fp`, a missed window costs `fn`. */
export interface NabProfile {
  name: 'standard' | 'reward_low_FP_rate' | 'reward_low_FN_rate';
  tp: number;
  fp: number;
  fn: number;
}

export const NAB_PROFILES = [
  { name: 'standard', tp: 1.0, fp: 0.11, fn: 1.0 },
  { name: 'reward_low_FP_rate', tp: 1.0, fp: 0.22, fn: 1.0 },
  { name: 'reward_low_FN_rate', tp: 1.0, fp: 0.11, fn: 2.0 },
] as const satisfies readonly NabProfile[];

/** One series of the corpus: the detector's score per row (file order) and its label windows as inclusive row ranges. */
export interface NabFile {
  name: string;
  scores: ArrayLike<number>;
  /** Inclusive [first row, last row] of each window, in order, not overlapping. */
  windows: readonly (readonly [number, number])[];
}

/** NAB's scaled sigmoid: 2 / (1 + e^(5y)) − 1, and −1 past y = 3. */
export function scaledSigmoid(y: number): number {
  if (y > 3) return -1;
  return 2 / (1 + Math.exp(5 * y)) - 1;
}

/** Rows not scored at the start of a file of `rows` rows: 15 %, at most 750. */
export function probationaryRows(rows: number): number {
  return Math.min(Math.floor(0.15 * rows), 750);
}

/**
 * What a detection at each row is worth under `profile`, before the window rule: inside a
 * window `tp · σ(−(R − i + 1)/w) / σ(−1)` (exactly `tp` on the window's first row), before the
 * first window `−fp`, after a window `fp · σ(|i − R| / (w − 1))`. Probationary rows are NaN
 * (not scored). `window[i]` is the index of the window holding row i, or −1.
 */
export function rowValues(rows: number, windows: NabFile['windows'], profile: NabProfile): { value: Float64Array; window: Int32Array } {
  const value = new Float64Array(rows);
  const window = new Int32Array(rows).fill(-1);
  const maxTp = scaledSigmoid(-1);
  const probation = probationaryRows(rows);
  let w = 0;
  let prevRight = -1;
  let prevWidth = 0;
  for (let i = 0; i < rows; i++) {
    const cur = windows[w];
    if (cur && i > cur[1]) {
      prevRight = cur[1];
      prevWidth = cur[1] - cur[0] + 1;
      w++;
    }
    const win = windows[w];
    if (win && i >= win[0] && i <= win[1]) {
      const width = win[1] - win[0] + 1;
      value[i] = (profile.tp * scaledSigmoid(-(win[1] - i + 1) / width)) / maxTp;
      window[i] = w;
    } else if (prevRight < 0) {
      value[i] = -profile.fp;
    } else {
      // A window one row wide has no "w − 1": NAB would divide by zero; count it as far away.
      const y = prevWidth > 1 ? Math.abs(i - prevRight) / (prevWidth - 1) : Infinity;
      value[i] = profile.fp * scaledSigmoid(y);
    }
    if (i < probation) value[i] = NaN;
  }
  return { value, window };
}

export interface NabFileScore {
  name: string;
  score: number;
  /** Windows with a detection, windows without one, detections outside every window. */
  truePositives: number;
  falseNegatives: number;
  falsePositives: number;
}

/** The raw score of one file at one threshold (a detection is a score ≥ threshold). */
export function scoreFile(file: NabFile, threshold: number, profile: NabProfile): NabFileScore {
  const rows = file.scores.length;
  const { value, window } = rowValues(rows, file.windows, profile);
  const best = new Float64Array(file.windows.length).fill(-Infinity);
  let score = 0;
  let fp = 0;
  for (let i = 0; i < rows; i++) {
    const v = value[i]!;
    if (Number.isNaN(v) || !(file.scores[i]! >= threshold)) continue;
    const w = window[i]!;
    if (w >= 0) best[w] = Math.max(best[w]!, v);
    else {
      score += v;
      fp++;
    }
  }
  let tp = 0;
  for (const b of best) {
    if (b === -Infinity) score -= profile.fn;
    else {
      score += b;
      tp++;
    }
  }
  return { name: file.name, score, truePositives: tp, falseNegatives: file.windows.length - tp, falsePositives: fp };
}

/** Where a detector stood on each window at a threshold: what to look at when a score is short. */
export interface NabWindowReport {
  /** Inclusive rows of the window. */
  first: number;
  last: number;
  /** The earliest row with a detection, or −1 (missed); its position in the window, 0 = first row, 1 = last. */
  detectedRow: number;
  position: number | null;
  /** The highest score inside the window, and its row: how far below the threshold a miss was. */
  maxScore: number;
  maxRow: number;
}

/** Per window: the earliest detection and the highest score; and the rows of false positives (probation excluded). */
export function windowReport(file: NabFile, threshold: number): { windows: NabWindowReport[]; falsePositiveRows: number[] } {
  const windows = file.windows.map(([first, last]) => {
    let detectedRow = -1;
    let maxScore = -Infinity;
    let maxRow = first;
    for (let i = first; i <= last && i < file.scores.length; i++) {
      const s = file.scores[i]!;
      if (detectedRow < 0 && s >= threshold) detectedRow = i;
      if (s > maxScore) {
        maxScore = s;
        maxRow = i;
      }
    }
    const position = detectedRow < 0 ? null : last > first ? (detectedRow - first) / (last - first) : 0;
    return { first, last, detectedRow, position, maxScore, maxRow };
  });
  const falsePositiveRows: number[] = [];
  for (let i = probationaryRows(file.scores.length); i < file.scores.length; i++) {
    if (file.scores[i]! >= threshold && !file.windows.some(([a, b]) => i >= a && i <= b)) falsePositiveRows.push(i);
  }
  return { windows, falsePositiveRows };
}

export interface NabResult {
  profile: NabProfile['name'];
  threshold: number;
  /** Summed raw score over the files at `threshold`. */
  raw: number;
  /** 100 · (raw − null) / (perfect − null). */
  normalized: number;
  windows: number;
  truePositives: number;
  falseNegatives: number;
  falsePositives: number;
  perFile: NabFileScore[];
}

/** The perfect detector (the first row of every window, nothing else) and the null one (never fires). */
export function nabBounds(files: readonly NabFile[], profile: NabProfile): { perfect: number; null: number; windows: number } {
  const windows = files.reduce((n, f) => n + f.windows.length, 0);
  return { perfect: profile.tp * windows, null: -profile.fn * windows, windows };
}

export function normalizeNab(raw: number, files: readonly NabFile[], profile: NabProfile): number {
  const b = nabBounds(files, profile);
  return b.perfect === b.null ? 0 : (100 * (raw - b.null)) / (b.perfect - b.null);
}

/**
 * The best threshold for `profile` over all files together: every distinct score is tried (a
 * sweep from the highest score down, adding one row at a time, as NAB's sweeper does), plus
 * "never fire". Ties keep the higher threshold.
 */
export function optimizeThreshold(files: readonly NabFile[], profile: NabProfile): { threshold: number; raw: number } {
  interface Row {
    s: number;
    v: number;
    w: number;
  }
  const all: Row[] = [];
  let windowBase = 0;
  for (const f of files) {
    const { value, window } = rowValues(f.scores.length, f.windows, profile);
    for (let i = 0; i < f.scores.length; i++) {
      const v = value[i]!;
      const s = f.scores[i]!;
      if (Number.isNaN(v) || !Number.isFinite(s)) continue;
      all.push({ s, v, w: window[i]! >= 0 ? windowBase + window[i]! : -1 });
    }
    windowBase += f.windows.length;
  }
  all.sort((a, b) => b.s - a.s);
  const best = new Float64Array(windowBase).fill(-Infinity);
  // Never firing: every window missed.
  let raw = -profile.fn * windowBase;
  let bestRaw = raw;
  let bestThreshold = all.length ? all[0]!.s + 1 : 1;
  for (let k = 0; k < all.length; ) {
    const s = all[k]!.s;
    for (; k < all.length && all[k]!.s === s; k++) {
      const r = all[k]!;
      if (r.w < 0) raw += r.v;
      else if (r.v > best[r.w]!) {
        raw += r.v - (best[r.w] === -Infinity ? -profile.fn : best[r.w]!);
        best[r.w] = r.v;
      }
    }
    if (raw > bestRaw + 1e-12) {
      bestRaw = raw;
      bestThreshold = s;
    }
  }
  return { threshold: bestThreshold, raw: bestRaw };
}

/** Score a detector's output over a corpus under one profile, with the threshold optimised over it (or the one given). */
export function scoreNab(files: readonly NabFile[], profile: NabProfile, threshold?: number): NabResult {
  const t = threshold ?? optimizeThreshold(files, profile).threshold;
  const perFile = files.map((f) => scoreFile(f, t, profile));
  const raw = perFile.reduce((a, f) => a + f.score, 0);
  const sum = (k: 'truePositives' | 'falseNegatives' | 'falsePositives') => perFile.reduce((a, f) => a + f[k], 0);
  return {
    profile: profile.name,
    threshold: t,
    raw,
    normalized: normalizeNab(raw, files, profile),
    windows: nabBounds(files, profile).windows,
    truePositives: sum('truePositives'),
    falseNegatives: sum('falseNegatives'),
    falsePositives: sum('falsePositives'),
    perFile,
  };
}

/** A NAB data file: header `timestamp,value`, one row per sample, in file order (timestamps may repeat or step back). */
export function parseNabCsv(text: string, name = 'csv'): { timestamps: string[]; values: Float64Array } {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.shift();
  if (!header || header.trim().toLowerCase() !== 'timestamp,value') throw new Error(`${name}:1: expected header "timestamp,value", got ${JSON.stringify(header ?? '')}`);
  const timestamps: string[] = [];
  const values = new Float64Array(lines.length);
  lines.forEach((l, i) => {
    const comma = l.indexOf(',');
    const v = Number(l.slice(comma + 1));
    if (comma < 0 || !Number.isFinite(v)) throw new Error(`${name}:${i + 2}: expected "timestamp,value", got ${JSON.stringify(l)}`);
    timestamps.push(normalizeTimestamp(l.slice(0, comma)));
    values[i] = v;
  });
  return { timestamps, values };
}

/** `2014-02-26 13:45:00.000000` and `2014-02-26 13:45:00` are the same instant. */
export function normalizeTimestamp(t: string): string {
  return t.trim().replace(/\.0+$/, '');
}

/** Window bounds (timestamps, inclusive) → row ranges; each bound must occur exactly once in the file. */
export function windowRows(timestamps: readonly string[], windows: readonly (readonly [string, string])[], name = 'csv'): [number, number][] {
  const index = new Map<string, number>();
  const dup = new Set<string>();
  timestamps.forEach((t, i) => (index.has(t) ? dup.add(t) : index.set(t, i)));
  const row = (t: string) => {
    const k = normalizeTimestamp(t);
    const i = index.get(k);
    if (i === undefined) throw new Error(`${name}: window bound ${t} is not a row of the file`);
    if (dup.has(k)) throw new Error(`${name}: window bound ${t} occurs more than once in the file`);
    return i;
  };
  return windows.map(([a, b]) => [row(a), row(b)] as [number, number]).sort((x, y) => x[0] - y[0]);
}

/** Time of a NAB timestamp (`YYYY-MM-DD HH:MM:SS`, UTC) in unix seconds. */
export function nabUnixSeconds(t: string): number {
  return Date.parse(t.replace(' ', 'T') + 'Z') / 1000;
}
