import type { MetricKind } from '../../domain/index.js';
import type { NodeReadings } from '../../store/index.js';
import type { DfOutcome } from '../runProbe.js';

/** What a collector gets: the node's files, split from the probe output, and its last counters. */
export interface KindInput {
  files: ReadonlyMap<string, string>;
  /** The previous sample this node gave for this kind, from the store (never from memory). */
  prev?: { timeMs: number; sample: unknown };
  /** When the hub received this sample. */
  nowMs: number;
  filters: KindFilters;
  /** How the probe's df ended (collect/runProbe.ts). */
  df?: DfOutcome;
}

export interface KindFilters {
  storageExcludeFsTypes?: RegExp;
  storageExcludeMountPoints?: RegExp;
  networkExcludeInterfaces?: RegExp;
  /** Block devices left out of diskio (default: parse/procDiskstats.ts DEFAULT_EXCLUDE_DISK_DEVICES). */
  diskExcludeDevices?: RegExp;
}

export interface KindOutput {
  readings: Partial<Omit<NodeReadings, 'node' | 'timeUnixSeconds'>>;
  rows: number;
  /** Raw counters to keep for the next delta. */
  counters?: unknown;
  /** Things worth a log line that are not failures (a counter reset, an offline sensor). */
  notes: string[];
  /** The kind failed in part: what it could read is stored, and the run counts as failed with this error (nvidia-smi lost one GPU of two). */
  error?: string;
}

/** One metric kind's parsing step. Throws ParseError when the node's output is not what the kernel prints. */
export interface KindCollector {
  kind: MetricKind;
  collect(input: KindInput): KindOutput;
}

export class MissingFileError extends Error {
  override name = 'MissingFileError';
  constructor(readonly file: string) {
    super(`the node printed no ${file} (not Linux, or the probe's root is wrong)`);
  }
}

export function requireFile(files: ReadonlyMap<string, string>, path: string): string {
  const text = files.get(path);
  if (text === undefined || text === '') throw new MissingFileError(path);
  return text;
}

/** Interval between two samples: the node's own uptime when both have it, else the hub's clock. */
export function intervalSeconds(prev: { timeMs: number; uptimeSeconds?: number }, cur: { nowMs: number; uptimeSeconds?: number }): number {
  if (prev.uptimeSeconds !== undefined && cur.uptimeSeconds !== undefined && cur.uptimeSeconds > prev.uptimeSeconds) {
    return cur.uptimeSeconds - prev.uptimeSeconds;
  }
  return (cur.nowMs - prev.timeMs) / 1000;
}
