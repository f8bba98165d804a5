/**
 * Inference events: one per inference a deployed model made, as the model printed it on stdout
 * (docs/inference-protocol.md) or pushed it to POST /inference.
 */

/** One inference, as the protocol line gave it. Absent is undefined, never 0. */
export interface InferenceRecord {
  /** When the inference finished (`ts`), unix milliseconds; undefined: the log line's own time. */
  timeUnixMs?: number;
  /** Wall time of the whole inference, milliseconds (`latency_ms`); undefined only on an error. */
  latencyMs?: number;
  /** Milliseconds spent before the model ran (decode, resize, normalize). */
  preprocessMs?: number;
  /** Milliseconds the model itself ran (the runtime's `run`). */
  inferMs?: number;
  /** Milliseconds after (argmax, NMS, formatting). */
  postprocessMs?: number;
  /** Inputs in this inference (1 in single-stream). */
  batch: number;
  /** The input's id, so a run can be matched against its inputs. */
  inputId?: string;
  /** The model's answer (top-1 class). */
  label?: string;
  /** The answer's score or probability. */
  score?: number;
  /** The input's true label, when known: correctness = label === expected. */
  expected?: string;
  /** Why the inference failed; its latency may still be given. */
  error?: string;
}

/** An inference as stored: the record, where it ran, and the time it is filed under. */
export interface InferenceEvent extends InferenceRecord {
  node: string;
  deploymentId: string | null;
  model: string;
  tag: string;
  timeUnixMs: number;
}

/** Where the stored rows came from. */
export const INFERENCE_SOURCES = ['log', 'push'] as const;
export type InferenceSource = (typeof INFERENCE_SOURCES)[number];
