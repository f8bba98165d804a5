/**
 * An online anomaly detector for one series, cheap enough for every series of every node on an
 * edge hub. Each sample is scored from the past only (no look-ahead); the state is a small plain
 * object (JSON-serializable) that the store keeps between runs, so a restarted hub does not start
 * cold.
 *
 * "Robust features + anomaly likelihood" (docs/anomalies.md, measured with bench/nab.ts):
 *
 * 1. A robust rolling statistic: the median and MAD (× 1.4826, a σ estimate) of the last
 *    `windowSamples` values before the recent ones, the scale floored at 1 % of the range seen.
 * 2. A level-shift test: |median(last `shiftSamples` values) − that median| / scale — a spike of
 *    one sample does not move a median of three, a step that holds does.
 * 3. A new extreme (min/max normalisation): how far the value leaves the range of everything
 *    seen so far, relative to that range — counted only when it leaves it by at least
 *    `recordMarginNoise` σ of the sample-to-sample noise (the median |x[t] − x[t−1]| over the
 *    window): noise keeps setting tiny records, an event clears the old record by more than the
 *    noise between two samples. Differences, unlike the MAD about the median, are not inflated by
 *    the trend or level shift the window straddles.
 * 4. HTM-style anomaly likelihood (Ahmad et al. 2017): each feature f (as log(1 + f)) is compared
 *    with its own recent distribution — an exponentially weighted mean and variance with memory
 *    1/`likelihoodAlpha` samples — as a Gaussian tail probability p = Q((f − mean) / std); the
 *    score is log(p + 1e-10) / log(1e-10) ∈ [0, 1] (NAB's "log likelihood"), max over features.
 *    0.5 means p ≈ 1e-5. Self-normalising (one threshold fits °C, %, bytes/s) and smooth: the
 *    score moves with how improbable a sample is, so the useful threshold is a broad plateau, not
 *    a knife edge.
 * 5. After a flag, the next `refractorySamples` samples are capped below the threshold: one
 *    event is one flag, not a burst.
 * 6. Contextual novelty (CAD OSE's idea): a change of value bucket (6 of the range seen, one below,
 *    one above) whose transition contexts (1 and 2 buckets back) were never seen adds up to
 *    `contextWeight` to the score (`contextNovelty`).
 * 7. A record stay (`stayRecord`): the series has held one band of its range (a quarter) for
 *    `stayFactor` × longer than any earlier stay in that band, and at least `stayMinSamples`,
 *    after a history of at least `stayHistoryFactor` × that long — a regime held longer than ever,
 *    such as a machine cooling for a day, which no window-local feature sees. Scores 1 on the
 *    sample the stay crosses that mark, once per stay.
 * 8. A time-of-day profile (24 UTC bins of the recent median) adds to the score of a sample far
 *    from what this series does at this hour; with `recordProfileSigma` > 0 (a quiet hub), a new
 *    extreme scores only when the value is also that many of its hour's σ from the hour's mean,
 *    or clears the old range by `recordQuietNoise` σ of the sample-to-sample noise (a jump), or is
 *    `recordYoungSigma` long-run σ from the long-run mean.
 *    Before the profile has its days, a new extreme must also be `recordYoungSigma` long-run σ
 *    from the long-run mean (`likelihood-v5`): a young series' range is still growing.
 * 9. A profile alarm (`likelihood-v5`): the recent median `profileAlarmSigma` of its hour's σ from
 *    the hour's mean (the nearest of the bin and its two neighbours) scores 1 on its own, once,
 *    where it first gets that far: a day unlike the days before, or a level no hour has held.
 *    `likelihood-v6`: only when it is also at least `profileAlarmRecord` × the largest deviation
 *    this series has had lately (a peak that fades over `profileAlarmMemorySamples`) — in a spiky
 *    series 8 σ of the hour is an ordinary day, in a regular one it is not.
 * 10. A profile drift (`likelihood-v7`; HTM's idea of judging an average of recent deviations,
 *    not one): the recent median's signed deviation from its own hour's mean, in that hour's σ,
 *    clipped at ±`profileDriftClipSigma`, averaged over about `profileDriftSamples` samples
 *    (exponentially); when that average reaches ±`profileDriftSigma` it scores 1, once per
 *    excursion, under the same peak gate as 9, and only at `profileDriftNoise` × the average's own
 *    running RMS (a series that wanders for hours drifts that far by itself). An hour that runs
 *    2–3 σ off all along — a day's high at half its height, a holiday — where no single sample is
 *    8 σ away; the clip keeps a spike or two from making an average.
 * `likelihood-v8`: v7 on a quiet hub (8 with `recordProfileSigma` 5), the drift kept (v7 turned it
 *    off there): what a stable fleet's wander sets no longer alarms, and the drift finds most of
 *    what the quiet gate loses (docs/anomalies.md, eleventh round).
 *
 * O(window) per sample (an incrementally sorted window of ≤ 96 numbers).
 */

export interface DetectorConfig {
  /** Samples in the rolling median/MAD window. */
  windowSamples: number;
  /** Samples in the recent median of the level-shift test (the newest included). */
  shiftSamples: number;
  /** Samples seen before any score is given (the detector is learning). */
  warmupSamples: number;
  /** Weight of a new sample in each feature's running mean and variance (memory ≈ 1/alpha samples). */
  likelihoodAlpha: number;
  /** The MAD scale is at least this fraction of the range seen (flat series, quantised values). */
  scaleFloorOfRange: number;
  /** Samples after a flag whose score is capped below the threshold. */
  refractorySamples: number;
  /** A score at or above this is a flag. */
  threshold: number;
  /** Contextual novelty: buckets of the range seen (plus one below and one above it); 0 turns it off. */
  contextBuckets: number;
  /** Contexts are the last 1..`contextLength` bucket transitions before the current bucket. */
  contextLength: number;
  /** Added to the score of a sample whose contexts are new, × the fraction of them that are. */
  contextWeight: number;
  /** A new extreme counts only when it clears the old range by this many σ of the sample-to-sample noise… */
  recordMarginNoise: number;
  /** …and by this many long-run σ of the values (an exponentially weighted std, memory 1/`likelihoodAlpha`). */
  recordMarginSpread: number;
  /** Record stay: equal bands of the range seen (plus one below and one above it); 0 turns the test off. */
  stayBands: number;
  /** A stay in a band is a record when it is this many times the longest earlier stay in that band… */
  stayFactor: number;
  /** …and at least this many samples long… */
  stayMinSamples: number;
  /** …and the samples before the stay are at least this many times its length ("longer than ever" needs an "ever"). */
  stayHistoryFactor: number;
  /** Time-of-day profile: bins of the UTC day (0 turns it off; it needs the samples' times). */
  profileBins: number;
  /** Days of history before the profile is asked. */
  profileDays: number;
  /** Smallest weight of a new sample in its bin's running mean and deviation (memory ≈ 1/alpha samples of that bin). */
  profileAlpha: number;
  /** Added to the score, × (deviation − 3) / 3 capped at 1, when the profile feature is over 3 of its bin's σ. */
  profileWeight: number;
  /**
   * A quiet hub (`likelihood-v8`'s default 5; 0: off, the NAB setting of v7 and earlier): a new extreme scores only when the value is also this
   * many σ of its time-of-day bin from that bin's mean (the nearest of it and its two
   * neighbours), and not before the profile has `profileDays` of history. The extreme's
   * likelihood still learns every record. Needs the samples' times.
   */
  recordProfileSigma: number;
  /**
   * A young series (`likelihood-v5`; 0: off): before the profile has `profileDays` of history, a
   * new extreme scores only when the value is also this many long-run σ from the long-run mean
   * (`recordProfileSigma`, when larger, wins). Its range is still growing: the daily cycle and the
   * wander set records that say only that the series is new. Needs the samples' times.
   */
  recordYoungSigma: number;
  /**
   * Profile alarm (0: off, as in `likelihood-v4`): the recent median this many σ of its
   * time-of-day bin from the bin's mean (the nearest of it and its two neighbours) scores 1, on
   * the first sample that far (once per excursion). Needs the samples' times.
   */
  profileAlarmSigma: number;
  /**
   * Profile alarm, `likelihood-v6` (0: off, as in `likelihood-v5`): the deviation must also be at
   * least this fraction of the largest deviation of this series' recent past (its peak, fading by
   * e every `profileAlarmMemorySamples` samples): a series whose hours often stray this far does
   * not alarm on one more such day.
   */
  profileAlarmRecord: number;
  /** Samples over which that peak fades by a factor e. */
  profileAlarmMemorySamples: number;
  /**
   * A quiet hub's jump (with `recordProfileSigma` > 0, once the profile is ready): a new extreme
   * that is ordinary for its hour still scores when it clears the old range by at least this many
   * σ of the sample-to-sample noise — a jump no step of the series makes, not the wander creeping
   * to a new high (0: off).
   */
  recordQuietNoise: number;
  /**
   * Profile drift, `likelihood-v7` (0: off, as in `likelihood-v6`): the samples over which the
   * signed deviation from the sample's own time-of-day bin (in its σ, clipped) is averaged (the
   * exponential weight of a new one is 1 / this).
   */
  profileDriftSamples: number;
  /** Each deviation enters the average clipped to ± this many σ of its bin: one spike is not a drift. */
  profileDriftClipSigma: number;
  /** The average at ± this many σ scores 1, once per excursion (and only ≥ `profileAlarmRecord` × its own fading peak). */
  profileDriftSigma: number;
  /** Days of history before the drift is asked (a younger profile's σ is still settling). */
  profileDriftDays: number;
  /**
   * The drift on a quiet hub too (`likelihood-v8`; 0: as `likelihood-v7`, whose quiet hub
   * (`recordProfileSigma` > 0) had no drift).
   */
  profileDriftOnQuietHub: number;
  /** …and at least this many times its own running RMS (memory 1/`likelihoodAlpha`): a series that wanders for hours drifts by itself. */
  profileDriftNoise: number;
}

export const DETECTOR_NAME = 'likelihood-v8';

/** Measured on the NAB development folder (see docs/anomalies.md); the threshold sits on a plateau of the standard profile. */
export const DEFAULT_DETECTOR_CONFIG: Readonly<DetectorConfig> = {
  windowSamples: 96,
  shiftSamples: 3,
  warmupSamples: 150,
  likelihoodAlpha: 0.0003,
  scaleFloorOfRange: 0.01,
  refractorySamples: 12,
  threshold: 0.95,
  contextBuckets: 6,
  contextLength: 2,
  contextWeight: 0.1,
  recordMarginNoise: 0.5,
  recordMarginSpread: 0,
  stayBands: 4,
  stayFactor: 1.75,
  stayMinSamples: 84,
  stayHistoryFactor: 40,
  profileBins: 24,
  profileDays: 3,
  profileAlpha: 0.01,
  profileWeight: 0.3,
  recordProfileSigma: 5,
  recordYoungSigma: 5,
  profileAlarmSigma: 8,
  profileAlarmRecord: 0.75,
  profileAlarmMemorySamples: 8640,
  recordQuietNoise: 2.5,
  profileDriftSamples: 12,
  profileDriftClipSigma: 3,
  profileDriftSigma: 2,
  profileDriftDays: 4,
  profileDriftNoise: 3,
  profileDriftOnQuietHub: 1,
};

/**
 * The detectors a hub may run (`detect.detector`), by the name their states and episodes are
 * stored under: a series whose stored state is another detector's starts learning again.
 */
export const DETECTORS = {
  'likelihood-v8': DEFAULT_DETECTOR_CONFIG,
  // The NAB setting (no quiet gate), as each was the default; on a hub `detect.recordProfileSigma` applies to all.
  'likelihood-v7': { ...DEFAULT_DETECTOR_CONFIG, recordProfileSigma: 0, profileDriftOnQuietHub: 0 },
  'likelihood-v6': { ...DEFAULT_DETECTOR_CONFIG, recordProfileSigma: 0, profileDriftSamples: 0 },
  'likelihood-v5': { ...DEFAULT_DETECTOR_CONFIG, recordProfileSigma: 0, profileDriftSamples: 0, profileAlarmRecord: 0 },
  'likelihood-v4': { ...DEFAULT_DETECTOR_CONFIG, recordProfileSigma: 0, profileDriftSamples: 0, recordYoungSigma: 0, profileAlarmSigma: 0, profileAlarmRecord: 0 },
} as const satisfies Record<string, Readonly<DetectorConfig>>;
export type DetectorName = keyof typeof DETECTORS;

/** Bits of the seen-context set for a configuration: Σ_{j=1..L} S^(j+1), S = buckets + 2. */
export function contextSetBits(config: Readonly<DetectorConfig>): number {
  const symbols = config.contextBuckets + 2;
  let bits = 0;
  for (let j = 1, p = symbols * symbols; j <= config.contextLength; j++, p *= symbols) bits += p;
  return bits;
}

/** Everything the detector remembers about one series: plain numbers, JSON as it is. */
export interface DetectorState {
  v: 8;
  /** Samples seen. */
  n: number;
  /** The last values (at most `windowSamples + shiftSamples − 1`), a ring: the oldest at `head` once full. */
  window: number[];
  head: number;
  /** Smallest and largest value seen (null before the first). */
  min: number | null;
  max: number | null;
  /** Running mean and variance of log(1 + feature): [mean shift, var shift, mean extreme, var extreme]. */
  stats: [number, number, number, number];
  /** Samples left in the refractory period. */
  quiet: number;
  /** The score that started the current quiet period. */
  peak: number;
  /** The last `contextLength` distinct buckets (a bucket is pushed only when it changes), oldest first. */
  ctx: number[];
  /** Contexts seen: a bitmap in unsigned 32-bit words (exact in JSON), grown as needed (≤ 18 words by default). */
  seen: number[];
  /** Record stay: the current band (−1 before the first), samples in it so far, and per band the longest finished stay. */
  band: number;
  stay: number;
  longest: number[];
  /** Exponentially weighted mean and variance of the values. */
  vs: [number, number];
  /** Time-of-day profile: per bin its running mean, mean absolute deviation and sample count (capped); the first sample's time (null: none yet). */
  prof: number[];
  t0: number | null;
  /** The recent median is `profileAlarmSigma` or more from its hour's mean (the profile alarm has fired for this excursion). */
  away: boolean;
  /** The largest profile deviation lately (fading; 0 before the profile is asked): the profile alarm's bar in a series that strays often. */
  pk: number;
  /** Profile drift: the running average of the clipped signed deviation, whether it is past its bar (has fired for this excursion), and its fading peak |average|. */
  drift: number;
  driftAway: boolean;
  driftPeak: number;
  /** The running mean square of `drift` (its spread on this series). */
  driftVar: number;
}

export function newDetectorState(): DetectorState {
  return { v: 8, n: 0, window: [], head: 0, min: null, max: null, stats: [0, 0, 0, 0], quiet: 0, peak: 0, ctx: [], seen: [], band: -1, stay: 0, longest: [], vs: [0, 0], prof: [], t0: null, away: false, pk: 0, drift: 0, driftAway: false, driftPeak: 0, driftVar: 0 };
}

/** A stored state that is not one of ours (another version, hand-edited) starts over rather than failing. */
export function isDetectorState(x: unknown): x is DetectorState {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Partial<DetectorState>;
  return (
    s.v === 8 &&
    typeof s.n === 'number' &&
    Array.isArray(s.window) &&
    s.window.every((v) => typeof v === 'number' && Number.isFinite(v)) &&
    (s.min === null || typeof s.min === 'number') &&
    (s.max === null || typeof s.max === 'number') &&
    Array.isArray(s.stats) &&
    s.stats.length === 4 &&
    s.stats.every((v) => typeof v === 'number' && Number.isFinite(v)) &&
    typeof s.head === 'number' &&
    Number.isInteger(s.head) &&
    s.head >= 0 &&
    s.head <= s.window.length &&
    typeof s.quiet === 'number' &&
    typeof s.peak === 'number' &&
    Array.isArray(s.ctx) &&
    s.ctx.every((v) => Number.isInteger(v) && v >= 0) &&
    Array.isArray(s.seen) &&
    s.seen.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32) &&
    Number.isInteger(s.band) &&
    Number.isInteger(s.stay) &&
    Array.isArray(s.longest) &&
    s.longest.every((v) => Number.isInteger(v) && v >= 0) &&
    Array.isArray(s.vs) &&
    s.vs.length === 2 &&
    s.vs.every((v) => typeof v === 'number' && Number.isFinite(v)) &&
    Array.isArray(s.prof) &&
    s.prof.every((v) => typeof v === 'number' && Number.isFinite(v)) &&
    (s.t0 === null || (typeof s.t0 === 'number' && Number.isFinite(s.t0))) &&
    typeof s.away === 'boolean' &&
    typeof s.pk === 'number' &&
    Number.isFinite(s.pk) &&
    s.pk >= 0 &&
    typeof s.drift === 'number' &&
    Number.isFinite(s.drift) &&
    typeof s.driftAway === 'boolean' &&
    typeof s.driftPeak === 'number' &&
    Number.isFinite(s.driftPeak) &&
    s.driftPeak >= 0 &&
    typeof s.driftVar === 'number' &&
    Number.isFinite(s.driftVar) &&
    s.driftVar >= 0
  );
}

export interface Detection {
  /** Anomaly score in [0, 1]. */
  score: number;
  /** score ≥ threshold: a new alarm (never within `refractorySamples` of the last one). */
  flagged: boolean;
  /** The score before the refractory cap is at or above the threshold: the sample is part of an anomalous episode. */
  anomalous: boolean;
  /** Which mechanism carried the score to the threshold (`DETECTION_CAUSES`); absent when not anomalous. */
  cause?: DetectionCause;
}

/**
 * What made a sample anomalous, in the order they are applied: the level-shift or the new-extreme
 * likelihood (1.–4.), the profile's bonus (8.), alarm (9.) or drift (10.), a record stay (7.), contextual
 * novelty (6.) lifting the score over the cut. The first that reaches the threshold is named.
 */
export const DETECTION_CAUSES = ['shift', 'extreme', 'profile', 'alarm', 'drift', 'stay', 'context'] as const;
export type DetectionCause = (typeof DETECTION_CAUSES)[number];

const scratch = new Float64Array(1024);
const diffScratch = new Float64Array(1024);

/**
 * The "older" part of a state's window, sorted: a cache beside the state (not in it, so the
 * stored JSON stays the ring alone), rebuilt whenever it does not belong to this state's sample.
 */
const sortedCache = new WeakMap<DetectorState, { n: number; sorted: Float64Array }>();

function sortedOlder(state: DetectorState, start: number, older: number): Float64Array {
  const c = sortedCache.get(state);
  if (c && c.n === state.n) return c.sorted;
  const sorted = new Float64Array(1024);
  const w = state.window;
  for (let i = 0, j = start; i < older; i++, j = j + 1 === w.length ? 0 : j + 1) sorted[i] = w[j]!;
  sorted.subarray(0, Math.max(0, older)).sort();
  return sorted;
}

function lowerBound(a: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Remove one x from sorted a[0..n). */
function sortedRemove(a: Float64Array, n: number, x: number): void {
  const i = lowerBound(a, n, x);
  a.copyWithin(i, i + 1, n);
}

/** Insert x into sorted a[0..n). */
function sortedInsert(a: Float64Array, n: number, x: number): void {
  const i = lowerBound(a, n, x);
  a.copyWithin(i + 1, i, n);
  a[i] = x;
}

/** Median absolute deviation from m of sorted a[0..n): walk outwards from m, merging both sides' distances. */
function madSorted(a: Float64Array, n: number, m: number): number {
  let r = lowerBound(a, n, m);
  let l = r - 1;
  const want = n >> 1;
  let prev = 0;
  for (let c = 0; c <= want; c++) {
    const dl = l >= 0 ? m - a[l]! : Infinity;
    const dr = r < n ? a[r]! - m : Infinity;
    let d: number;
    if (dl <= dr) {
      d = dl;
      l--;
    } else {
      d = dr;
      r++;
    }
    if (c === want) return n % 2 ? d : (prev + d) / 2;
    prev = d;
  }
  return prev;
}

/** k-th smallest of a[0..n) (rearranges a). */
function select(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

function medianOf(a: Float64Array, n: number): number {
  const hiMid = select(a, n, n >> 1);
  if (n % 2) return hiMid;
  // select leaves every element below index n/2 not greater than a[n/2]: the lower middle is their max.
  let loMid = -Infinity;
  for (let i = 0; i < n >> 1; i++) if (a[i]! > loMid) loMid = a[i]!;
  return (loMid + hiMid) / 2;
}

/** Upper tail of the standard normal, Q(z) = erfc(z / √2) / 2 (Numerical Recipes' erfc, relative error < 1.2e-7). */
export function normalTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return z >= 0 ? erfc / 2 : 1 - erfc / 2;
}

const LOG_EPS = Math.log(1e-10);
/** Smallest standard deviation of a log-feature (a series that has been perfectly steady). */
const MIN_STD = 0.01;

/**
 * One feature's anomaly likelihood against its running mean/variance (stats[i], stats[i + 1]),
 * then the running statistics take the new value in. Returns log(p + 1e-10) / log(1e-10).
 */
function likelihood(stats: [number, number, number, number], i: 0 | 2, f: number, n: number, alpha: number): number {
  const mean = stats[i]!;
  const variance = stats[i + 1]!;
  const p = normalTail((f - mean) / Math.sqrt(Math.max(variance, MIN_STD * MIN_STD)));
  const a = Math.max(alpha, 1 / n);
  const d = f - mean;
  stats[i] = mean + a * d;
  stats[i + 1] = (1 - a) * (variance + a * d * d);
  return Math.min(1, Math.max(0, Math.log(p + 1e-10) / LOG_EPS));
}

/** Band of `value` among `bands` equal bands of [min, max]: 0 below, bands + 1 above. */
function bandOf(value: number, min: number, max: number, bands: number): number {
  const range = max - min;
  if (value < min) return 0;
  if (value > max) return bands + 1;
  return 1 + Math.min(bands - 1, range > 0 ? Math.floor((bands * (value - min)) / range) : 0);
}

/**
 * Contextual novelty (the idea of CAD OSE, Smirnov 2016, in NAB: a value is a "fact", a context
 * is a short sequence of them, and a context never seen before is surprising): the value falls in
 * one of `contextBuckets` equal buckets of the range seen so far, or one below / above it; only a
 * change of bucket is an event; the contexts are (the last j buckets → this one) for j = 1..L.
 * Returns the fraction of the L contexts never seen before, and remembers them. 0 when the bucket
 * did not change. Exact (one bit per possible context, no hashing): 576 bits for 6 buckets, L = 2.
 */
function contextNovelty(state: DetectorState, value: number, config: Readonly<DetectorConfig>): number {
  if (state.min === null || state.max === null) return 0;
  const symbols = config.contextBuckets + 2;
  const b = bandOf(value, state.min, state.max, config.contextBuckets);
  const ctx = state.ctx;
  const L = config.contextLength;
  if (ctx.length > 0 && ctx[ctx.length - 1] === b) return 0;
  const seen = state.seen;
  let fresh = 0;
  let index = b;
  let offset = 0;
  let size = symbols;
  for (let j = 1; j <= L && j <= ctx.length; j++) {
    index = index * symbols + ctx[ctx.length - j]!;
    size *= symbols;
    const bit = offset + index;
    offset += size;
    const word = bit >>> 5;
    while (seen.length <= word) seen.push(0);
    const mask = 1 << (bit & 31);
    if (!(seen[word]! & mask)) {
      fresh++;
      seen[word] = (seen[word]! | mask) >>> 0;
    }
  }
  ctx.push(b);
  while (ctx.length > L) ctx.shift();
  return fresh / L;
}

/**
 * σ of the sample-to-sample noise: median |x[t] − x[t−1]| over the window (chronological from
 * `start`) and the new value, × 1.4826 / √2 (for Gaussian noise, the σ of one sample).
 */
function differenceNoise(w: readonly number[], start: number, value: number): number {
  const len = w.length;
  let prev = w[start]!;
  for (let i = 1, j = start + 1; i < len; i++, j++) {
    const x = w[j === len ? (j = 0) : j]!;
    diffScratch[i - 1] = Math.abs(x - prev);
    prev = x;
  }
  diffScratch[len - 1] = Math.abs(value - prev);
  return (medianOf(diffScratch, len) * 1.4826) / Math.SQRT2;
}

/**
 * Record stay: count the samples the series has stayed in its current band; on leaving a band,
 * remember that band's longest stay. True on the one sample where the current stay becomes
 * `stayFactor` × the longest earlier stay in its band and at least `stayMinSamples` long, if the
 * samples before the stay number at least `stayHistoryFactor` × as many. A stationary series sets
 * such records ever more rarely (the longest of many stays grows, and a young series is not
 * asked); a level held longer than ever sets one at once.
 */
function stayRecord(state: DetectorState, value: number, config: Readonly<DetectorConfig>): boolean {
  if (state.min === null || state.max === null) return false;
  const b = bandOf(value, state.min, state.max, config.stayBands);
  const longest = state.longest;
  if (b === state.band) state.stay++;
  else {
    if (state.band >= 0) {
      while (longest.length <= state.band) longest.push(0);
      longest[state.band] = Math.max(longest[state.band]!, state.stay);
    }
    state.band = b;
    state.stay = 1;
  }
  const mark = Math.max(config.stayMinSamples, config.stayFactor * (longest[b] ?? 0));
  // Samples before the stay (state.n already counts this one) stay fixed while the stay grows.
  return state.stay >= mark && state.stay - 1 < mark && state.n - state.stay >= config.stayHistoryFactor * state.stay;
}

/**
 * How far `value` is from what this series does at this time of day: |value − bin mean| in the
 * bin's σ (mean absolute deviation × 1.2533, floored like the scale), the nearest of the bin and
 * its two neighbours. The profile learns the recent median, so its σ is the spread of the hour's
 * typical level from day to day; `noise` (a σ of one sample) floors it too.
 */
function profileDeviation(state: DetectorState, value: number, bin: number, range: number, m: number, config: Readonly<DetectorConfig>, noise = 0): number {
  const floor = Math.max(config.scaleFloorOfRange * range, 1e-9 * Math.max(1, Math.abs(m)), noise);
  let d = Infinity;
  for (let j = -1; j <= 1; j++) {
    const b = (bin + j + config.profileBins) % config.profileBins;
    d = Math.min(d, Math.abs(value - state.prof[3 * b]!) / Math.max(state.prof[3 * b + 1]! * 1.2533, floor));
  }
  return d;
}

function median3(a: number, b: number, c: number): number {
  return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
}

/**
 * Score one new sample and update `state` in place. Non-finite values are not scored (score 0)
 * and leave the state as it was.
 */
export function detect(state: DetectorState, value: number, config: Readonly<DetectorConfig> = DEFAULT_DETECTOR_CONFIG, timeUnixSeconds?: number): Detection {
  if (!Number.isFinite(value)) return { score: 0, flagged: false, anomalous: false };
  const w = state.window;
  const len = w.length;
  const k = Math.max(1, config.shiftSamples);
  const capacity = Math.min(config.windowSamples + k - 1, scratch.length);
  // Chronological order: the ring starts at head once full (no closure here: this is the hot path).
  const start = len < capacity ? 0 : state.head;
  let shift = 0;
  let extreme = 0;
  let seasonal = 0;
  // The recent median's signed deviation from its own bin (not the nearest of three), in the bin's σ; null: no profile yet.
  let ownDeviation: number | null = null;
  // Quiet hub: a new extreme that is ordinary for the time of day (or comes before the profile is ready) does not score.
  let ordinaryRecord = false;
  let bin = -1;
  // The recent median (below); the profile learns it, not the raw value, so it lags a sharp daily rise exactly as the feature does.
  let recent = value;
  if (config.profileBins > 0 && timeUnixSeconds !== undefined && Number.isFinite(timeUnixSeconds)) {
    bin = Math.floor((((timeUnixSeconds % 86400) + 86400) % 86400) / (86400 / config.profileBins));
    if (state.t0 === null) state.t0 = timeUnixSeconds;
  }
  const older = len - (k - 1);
  const sorted = sortedOlder(state, start, older);
  if (older >= 16 && state.min !== null && state.max !== null) {
    const range = state.max - state.min;
    const m = older % 2 ? sorted[older >> 1]! : (sorted[(older >> 1) - 1]! + sorted[older >> 1]!) / 2;
    const scale = Math.max(madSorted(sorted, older, m) * 1.4826, config.scaleFloorOfRange * range, 1e-9 * Math.max(1, Math.abs(m)));
    if (k === 3) recent = median3(w[(start + len - 2) % len]!, w[(start + len - 1) % len]!, value);
    else if (k > 1) {
      for (let i = 0; i < k - 1; i++) scratch[i] = w[(start + older + i) % len]!;
      scratch[k - 1] = value;
      recent = medianOf(scratch, k);
    }
    shift = Math.abs(recent - m) / scale;
    // Unusual for the time of day: the recent median against its bin's mean of recent medians, in its bin's deviation.
    // Give or take a bin: the nearest of this bin and its two neighbours (a daily edge that comes a
    // few minutes early or late, or falls on a bin boundary, is not unusual).
    const profileReady = bin >= 0 && state.t0 !== null && timeUnixSeconds! - state.t0 >= config.profileDays * 86400 && state.prof.length === 3 * config.profileBins;
    if (profileReady) {
      const floor = Math.max(config.scaleFloorOfRange * range, 1e-9 * Math.max(1, Math.abs(m)));
      seasonal = Infinity;
      for (let j = -1; j <= 1; j++) {
        const b = (bin + j + config.profileBins) % config.profileBins;
        const dev = Math.max(state.prof[3 * b + 1]! * 1.2533, floor);
        seasonal = state.prof[3 * b + 2]! >= 3 ? Math.min(seasonal, Math.abs(recent - state.prof[3 * b]!) / dev) : 0;
        if (seasonal === 0) break;
      }
      const dev = Math.max(state.prof[3 * bin + 1]! * 1.2533, floor);
      ownDeviation = state.prof[3 * bin + 2]! >= 3 ? (recent - state.prof[3 * bin]!) / dev : 0;
    }
    const excess = Math.max(0, value - state.max, state.min - value);
    if (excess > 0) {
      const noise = Math.max(differenceNoise(w, start, value), config.scaleFloorOfRange * range, 1e-9 * Math.max(1, Math.abs(m)));
      const spread = Math.sqrt(state.vs[1]);
      if (excess >= config.recordMarginNoise * noise && excess >= config.recordMarginSpread * spread) {
        extreme = (10 * excess) / Math.max(range, 1e-9);
        // Before the profile knows the hours: as many σ from the series' long-run mean (a young series: at least recordYoungSigma).
        const young = Math.max(config.recordProfileSigma, config.recordYoungSigma);
        if (bin >= 0 && (profileReady ? config.recordProfileSigma > 0 : young > 0))
          // One value against its hour: in the hour's σ (the day-to-day spread of its recent median), but
          // never less than the sample-to-sample noise — a noisy series' single sample strays from a
          // steady hourly median by many of the median's σ.
          ordinaryRecord = profileReady ? profileDeviation(state, value, bin, range, m, config, noise) < config.recordProfileSigma : Math.abs(value - state.vs[0]) / Math.max(spread, 1e-12) < young;
        // …unless it is a jump (a quiet hub, once the hours are known; a young series' range is
        // still narrow, and its daily swing leaves it by many noise σ).
        if (ordinaryRecord && profileReady && config.recordQuietNoise > 0 && excess >= config.recordQuietNoise * noise) ordinaryRecord = false;
        // …or as far from the long-run mean as a young series' record must be: what was far before the profile stays far.
        if (ordinaryRecord && profileReady && young > 0 && Math.abs(value - state.vs[0]) / Math.max(spread, 1e-12) >= young) ordinaryRecord = false;
      }
    }
  }
  state.n++;
  {
    const a = Math.max(config.likelihoodAlpha, 1 / state.n);
    const d = value - state.vs[0];
    state.vs[0] += a * d;
    state.vs[1] = (1 - a) * (state.vs[1] + a * d * d);
  }
  const live = state.n > config.warmupSamples;
  const f0 = Math.log1p(shift);
  const f1 = Math.log1p(extreme);
  const l0 = likelihood(state.stats, 0, f0, state.n, config.likelihoodAlpha);
  const l1 = likelihood(state.stats, 2, f1, state.n, config.likelihoodAlpha);
  // An ordinary record is still learnt (above): how often this series sets records stays known.
  let score = live ? Math.max(l0, ordinaryRecord ? 0 : l1) : 0;
  let cause: DetectionCause | undefined = score >= config.threshold ? (l0 >= score ? 'shift' : 'extreme') : undefined;
  if (live && seasonal > 3) score = Math.min(1, score + config.profileWeight * Math.min(1, (seasonal - 3) / 3));
  if (!cause && score >= config.threshold) cause = 'profile';
  // A profile alarm: once, where the recent median first gets that far from what this hour does.
  if (config.profileAlarmSigma > 0) {
    const away = seasonal >= config.profileAlarmSigma;
    // …and as far as this series' own recent peak allows (v6): a spiky series strays 8 σ often.
    if (live && away && !state.away && seasonal >= config.profileAlarmRecord * state.pk) {
      cause ??= 'alarm';
      score = 1;
    }
    state.away = away;
    if (config.profileAlarmRecord > 0 && live && seasonal > 0 && Number.isFinite(seasonal)) state.pk = Math.max(seasonal, state.pk * Math.exp(-1 / config.profileAlarmMemorySamples));
  }
  // A profile drift: once, where the average of the recent deviations first gets that far (v7).
  // likelihood-v7 kept it off a quiet hub (three steady weeks: 0.057 → 0.138 episodes per node per
  // day); v8 keeps it there (the steady week stays at 0.026, NAB 66.6 → 75.2: docs/anomalies.md).
  if (config.profileDriftSamples > 0 && (config.recordProfileSigma === 0 || config.profileDriftOnQuietHub > 0) && ownDeviation !== null && Number.isFinite(ownDeviation)) {
    const clip = config.profileDriftClipSigma;
    state.drift += (Math.max(-clip, Math.min(clip, ownDeviation)) - state.drift) / config.profileDriftSamples;
    const drift = Math.abs(state.drift);
    const away = drift >= config.profileDriftSigma;
    // Against the average's own spread too: a series that wanders for hours (AR(1) noise, a random walk) drifts that far by itself.
    const ok = drift >= config.profileAlarmRecord * state.driftPeak && drift >= config.profileDriftNoise * Math.sqrt(state.driftVar);
    if (live && away && !state.driftAway && ok && timeUnixSeconds! - state.t0! >= config.profileDriftDays * 86400) {
      cause ??= 'drift';
      score = 1;
    }
    const d2 = state.drift * state.drift;
    state.driftVar = state.driftVar === 0 ? d2 : state.driftVar + Math.max(config.likelihoodAlpha, 1 / state.n) * (d2 - state.driftVar);
    state.driftAway = away;
    if (config.profileAlarmRecord > 0 && live) state.driftPeak = Math.max(drift, state.driftPeak * Math.exp(-1 / config.profileAlarmMemorySamples));
  }
  if (bin >= 0) {
    const prof = state.prof;
    while (prof.length < 3 * config.profileBins) prof.push(0, 0, 0);
    const c = prof[3 * bin + 2]!;
    const a = Math.max(config.profileAlpha, 1 / (c + 1));
    const d = recent - prof[3 * bin]!;
    prof[3 * bin] = c === 0 ? recent : prof[3 * bin]! + a * d;
    prof[3 * bin + 1] = c === 0 ? 0 : prof[3 * bin + 1]! + a * (Math.abs(d) - prof[3 * bin + 1]!);
    prof[3 * bin + 2] = Math.min(c + 1, 1 / config.profileAlpha);
  }
  if (config.stayBands > 0 && stayRecord(state, value, config) && live) {
    cause ??= 'stay';
    score = 1;
  }
  const novelty = config.contextBuckets > 0 ? contextNovelty(state, value, config) : 0;
  if (live && novelty > 0) score = Math.min(1, score + config.contextWeight * novelty);
  if (!cause && score >= config.threshold) cause = 'context';
  state.min = state.min === null ? value : Math.min(state.min, value);
  state.max = state.max === null ? value : Math.max(state.max, value);
  // The sorted cache follows the ring: when it is full the oldest value leaves "older"; the
  // oldest recent value (the new one, when shiftSamples is 1) joins it.
  if (len <= capacity && len >= k - 1) {
    const joining = k > 1 ? w[(start + older) % len]! : value;
    if (len === capacity) sortedRemove(sorted, older, w[start]!);
    sortedInsert(sorted, len === capacity ? older - 1 : older, joining);
    sortedCache.set(state, { n: state.n, sorted });
  } else sortedCache.delete(state);
  if (len < capacity) w.push(value);
  else {
    if (len > capacity) {
      // A smaller window than the state was saved with: keep the newest values, in order.
      const kept: number[] = [];
      for (let i = len - capacity; i < len; i++) kept.push(w[(start + i) % len]!);
      state.window = kept;
      state.head = 0;
    }
    state.window[state.head] = value;
    state.head = (state.head + 1) % capacity;
  }
  const anomalous = score >= config.threshold;
  // Suppression after a detection, whatever the threshold: within `refractorySamples` of the last
  // local peak, a sample that does not beat that peak scores 0 (the episode goes on: `anomalous`).
  if (state.quiet > 0 && score <= state.peak) {
    state.quiet--;
    score = 0;
  } else if (live && score > 0) {
    state.peak = score;
    state.quiet = config.refractorySamples;
  }
  const flagged = score >= config.threshold;
  return anomalous ? { score, flagged, anomalous, cause } : { score, flagged, anomalous };
}
