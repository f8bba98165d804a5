/**
 * Fixed time steps in front of the detector. It counts samples and was tuned on 5-minute data
 * (NAB, docs/anomalies.md), while the hub collects every 10 s: fed raw samples, its 96-sample
 * window would span 16 minutes instead of 8 hours. So each series' raw samples are averaged into
 * steps of `stepSeconds` (boundaries aligned to the epoch, like CloudWatch's 5-minute averages)
 * and the detector scores one mean per step. A step is scored when a sample of a later step
 * arrives; the partial step waits in the stored state between runs. `stepSeconds` 0 scores every
 * raw sample.
 */
import { isDetectorState, newDetectorState, type DetectorState } from './detector.js';

export const DEFAULT_STEP_SECONDS = 300;

/** The step being filled: its start (unix seconds, a multiple of the step), the sum and count of its samples, and its newest sample's time. */
export interface PartialStep {
  startUnixSeconds: number;
  sum: number;
  count: number;
  lastUnixSeconds: number;
}

/** What the store keeps per series: the detector's state and the partial step, for one step length. */
export interface SeriesState {
  stepSeconds: number;
  detector: DetectorState;
  partial: PartialStep | null;
}

export function newSeriesState(stepSeconds: number): SeriesState {
  return { stepSeconds, detector: newDetectorState(), partial: null };
}

/** A stored state for another step length (its detector learnt another time scale) or of another shape starts over. */
export function isSeriesState(x: unknown, stepSeconds: number): x is SeriesState {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Partial<SeriesState>;
  const p = s.partial;
  return (
    s.stepSeconds === stepSeconds &&
    isDetectorState(s.detector) &&
    (p === null ||
      (typeof p === 'object' &&
        [p.startUnixSeconds, p.sum, p.count, p.lastUnixSeconds].every((v) => typeof v === 'number' && Number.isFinite(v)) &&
        p.count > 0))
  );
}

/** `stepSeconds` from configuration: a finite number ≥ 0. */
export function checkStepSeconds(stepSeconds: number): number {
  if (!Number.isFinite(stepSeconds) || stepSeconds < 0) throw new Error(`detect.stepSeconds must be a number ≥ 0 (0: every raw sample), not ${stepSeconds}`);
  return stepSeconds;
}

/**
 * Adds one raw sample (times increasing); returns the step it completes — its mean, timed at its
 * newest sample — or null while the step is still filling. With `stepSeconds` 0, the sample itself.
 */
export function addSample(s: SeriesState, timeUnixSeconds: number, value: number): { timeUnixSeconds: number; value: number } | null {
  if (s.stepSeconds === 0) return { timeUnixSeconds, value };
  const start = Math.floor(timeUnixSeconds / s.stepSeconds) * s.stepSeconds;
  const p = s.partial;
  if (p && p.startUnixSeconds === start) {
    p.sum += value;
    p.count++;
    p.lastUnixSeconds = timeUnixSeconds;
    return null;
  }
  s.partial = { startUnixSeconds: start, sum: value, count: 1, lastUnixSeconds: timeUnixSeconds };
  return p ? { timeUnixSeconds: p.lastUnixSeconds, value: p.sum / p.count } : null;
}
