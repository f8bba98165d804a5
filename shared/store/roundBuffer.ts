/**
 * Rounds the store could not take yet. A locked or full database must not lose what the nodes
 * said: a round whose write fails with a condition that passes (SQLITE_BUSY, SQLITE_FULL, an I/O
 * error) is retried until its deadline, then kept here, in memory and bounded like Telegraf's
 * `metric_buffer_limit` (rounds and bytes; the oldest dropped with a warning), and written,
 * oldest first and each in its own transaction, before the next round. `storeHealth` is what
 * GET /health reports. Memory holds only writes not yet done; the truth is the store.
 */
import type { Logger, MetricKind, NodeSpec } from '../domain/index.js';
import type { Db } from './db.js';
import { recordOutcomes, syncNodes, type NodeOutcome } from './nodes.js';
import { readingsWriter, type CollectorRun, type CounterState, type NodeReadings } from './readings.js';

/** Everything one round writes. */
export interface RoundWrite {
  timeUnixSeconds: number;
  startedUnixMs: number;
  kinds: readonly MetricKind[];
  readings: readonly NodeReadings[];
  counters: readonly CounterState[];
  runs: readonly CollectorRun[];
  outcomes: readonly NodeOutcome[];
  /** The inventory's nodes when the round's own sync did not land: synced in the round's transaction. */
  sync?: { specs: readonly NodeSpec[]; keepVars?: readonly string[] };
  /** Runs inside the round's transaction after its rows (remote write queues the round there). */
  alsoInTransaction?: (db: Db) => void;
}

export interface BufferLimits {
  /** Rounds kept at most (`store.bufferMaxRounds`). */
  maxRounds: number;
  /** Their JSON size at most, in bytes (`store.bufferMaxBytes`). */
  maxBytes: number;
}

export const DEFAULT_BUFFER_LIMITS: BufferLimits = { maxRounds: 360, maxBytes: 64 * 1024 * 1024 };

/** What GET /health says about the store's writes in this process. */
export interface StoreHealth {
  /** The last failed write's error, until a write succeeds again. */
  lastError: string | null;
  lastErrorUnixSeconds: number | null;
  /** Since when writes fail (null while they succeed). */
  failingSinceUnixSeconds: number | null;
  lastWriteUnixSeconds: number | null;
  bufferedRounds: number;
  bufferedBytes: number;
  /** Rounds dropped from the full buffer since the process started. */
  droppedRounds: number;
}

export interface SubmitResult {
  /** The round is in the store (false: buffered, or dropped when it could never be written). */
  stored: boolean;
  roundId?: number;
  /** Buffered rounds written before it. */
  flushed: number;
  error?: string;
  attempts: number;
}

/** SQLite conditions that pass: a lock, a full disk, an I/O error, a read-only remount. Anything else (a bug, a constraint) would fail every retry. */
export function isTransientStoreError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|PROTOCOL|NOMEM)/.test(code);
}

/** A lock is waited for in slices this long (the busy timeout of each try), with the event loop free between them. */
const LOCK_SLICE_MS = 200;
const LOCK_PAUSE_MS = 10;
const BACKOFF_MAX_MS = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jsonBytes = (x: unknown) => JSON.stringify(x, (_k, v) => (v instanceof Map ? [...v] : v)).length;

interface Pending {
  round: RoundWrite;
  bytes: number;
}

export class RoundBuffer {
  readonly #pending: Pending[] = [];
  readonly health: StoreHealth = {
    lastError: null,
    lastErrorUnixSeconds: null,
    failingSinceUnixSeconds: null,
    lastWriteUnixSeconds: null,
    bufferedRounds: 0,
    bufferedBytes: 0,
    droppedRounds: 0,
  };
  limits: BufferLimits = DEFAULT_BUFFER_LIMITS;

  constructor(private readonly db: Db) {}

  /** The newest raw counters of buffered rounds (`node\0kind`): the next round's deltas start from them, not from the older ones stored. */
  pendingCounters(): Map<string, { timeMs: number; sample: unknown }> {
    const out = new Map<string, { timeMs: number; sample: unknown }>();
    for (const p of this.#pending) for (const c of p.round.counters) out.set(`${c.node}\0${c.kind}`, { timeMs: c.timeMs, sample: c.sample });
    return out;
  }

  /**
   * Write the buffered rounds, then this one. A lock is waited for in slices of the busy
   * timeout (`store.busyTimeoutMs`, at most LOCK_SLICE_MS each, the event loop free between),
   * a full disk retried with backoff, both until `deadlineMs` (shortly before the next round is
   * due); a round still unwritten then is buffered and goes first next time.
   */
  async submit(round: RoundWrite, o: { deadlineMs: number; log: Logger }): Promise<SubmitResult> {
    const busyTimeoutMs = Number(this.db.pragma('busy_timeout', { simple: true })) || 0;
    const deadlineMs = o.deadlineMs;
    let flushed = 0;
    let attempts = 0;
    let backoffMs = 50;
    for (;;) {
      attempts++;
      try {
        while (this.#pending.length) {
          this.#writeOne(this.#pending[0]!.round, busyTimeoutMs);
          this.#shift();
          flushed++;
          // A long backlog must not hold the routes up: one round per turn of the event loop.
          await new Promise((r) => setImmediate(r));
        }
        const roundId = this.#writeOne(round, busyTimeoutMs);
        this.#succeeded();
        if (flushed) o.log.info('buffered rounds written', { rounds: flushed });
        return { stored: true, roundId, flushed, attempts };
      } catch (e) {
        const error = (e as Error).message;
        this.#failed(error);
        if (!isTransientStoreError(e)) {
          // It would fail every time: keep the buffer behind it moving.
          o.log.error('round not stored', { error });
          if (this.#pending.length) this.#shift();
          else return { stored: false, flushed, error, attempts };
          continue;
        }
        if (Date.now() + Math.min(backoffMs, LOCK_SLICE_MS) >= deadlineMs) {
          this.#push(round, o.log);
          o.log.warn('store write failed, round buffered', { error, attempts, bufferedRounds: this.health.bufferedRounds, bufferedBytes: this.health.bufferedBytes });
          return { stored: false, flushed, error, attempts };
        }
        if (/^SQLITE_(BUSY|LOCKED)/.test(String((e as { code?: unknown }).code))) {
          // The try itself waited a slice for the lock: only let the event loop turn.
          await sleep(LOCK_PAUSE_MS);
        } else {
          await sleep(backoffMs);
          backoffMs = Math.min(BACKOFF_MAX_MS, backoffMs * 2);
        }
      }
    }
  }

  /**
   * At close (the hub's shutdown, the CLI's exit): one try for each buffered round, oldest first,
   * stopping at the first refusal. What is still buffered then is lost, and the log says so.
   */
  flushOnClose(log: Logger): void {
    const busyTimeoutMs = Number(this.db.pragma('busy_timeout', { simple: true })) || 0;
    let written = 0;
    try {
      while (this.#pending.length) {
        this.#writeOne(this.#pending[0]!.round, busyTimeoutMs);
        this.#shift();
        written++;
      }
    } catch (e) {
      this.#failed((e as Error).message);
    }
    if (written) log.info('buffered rounds written at close', { rounds: written });
    if (this.#pending.length) {
      log.error('buffered rounds lost at close: the store refused them', { rounds: this.#pending.length, error: this.health.lastError });
    }
  }

  /** One round in one transaction; a lock is waited for one slice at a time (the caller sleeps between tries). */
  #writeOne(r: RoundWrite, busyTimeoutMs: number): number {
    const writer = readingsWriter(this.db);
    this.db.pragma(`busy_timeout = ${Math.min(LOCK_SLICE_MS, busyTimeoutMs)}`);
    try {
      // Nested transactions are savepoints: the sync, readings, runs and outcomes land together.
      return this.db.transaction(() => {
        if (r.sync) syncNodes(this.db, r.sync.specs, r.timeUnixSeconds, { keepVars: r.sync.keepVars });
        const extra = () => {
          recordOutcomes(this.db, r.outcomes, r.timeUnixSeconds);
          r.alsoInTransaction?.(this.db);
        };
        return writer.writeRound(r.readings, r.counters, r.runs, extra, {
          timeUnixSeconds: r.timeUnixSeconds,
          startedUnixMs: r.startedUnixMs,
          kinds: r.kinds,
          nodes: r.outcomes.length,
        });
      }).immediate();
    } catch (e) {
      writer.forgetWritten();
      throw e;
    } finally {
      this.db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    }
  }

  #push(round: RoundWrite, log: Logger): void {
    const bytes = jsonBytes(round);
    this.#pending.push({ round, bytes });
    this.health.bufferedRounds++;
    this.health.bufferedBytes += bytes;
    while (this.#pending.length > Math.max(1, this.limits.maxRounds) || (this.health.bufferedBytes > this.limits.maxBytes && this.#pending.length > 1)) {
      const dropped = this.#shift();
      this.health.droppedRounds++;
      log.warn('write buffer full, oldest round dropped', {
        roundTimeUnixSeconds: dropped.round.timeUnixSeconds, bytes: dropped.bytes, maxRounds: this.limits.maxRounds, maxBytes: this.limits.maxBytes,
      });
    }
  }

  #shift(): Pending {
    const p = this.#pending.shift()!;
    this.health.bufferedRounds--;
    this.health.bufferedBytes -= p.bytes;
    return p;
  }

  #succeeded(): void {
    this.health.lastWriteUnixSeconds = Math.floor(Date.now() / 1000);
    this.health.failingSinceUnixSeconds = null;
    this.health.lastError = null;
  }

  #failed(error: string): void {
    const now = Math.floor(Date.now() / 1000);
    this.health.lastError = error;
    this.health.lastErrorUnixSeconds = now;
    this.health.failingSinceUnixSeconds ??= now;
  }
}

const buffers = new WeakMap<Db, RoundBuffer>();
/** The one buffer of an open database (per process: a cold Lambda starts with none). */
export function roundBuffer(db: Db): RoundBuffer {
  let b = buffers.get(db);
  if (!b) buffers.set(db, (b = new RoundBuffer(db)));
  return b;
}

/** Write what the database's buffer holds, if it has one, before the database is closed. */
export function flushRoundsOnClose(db: Db, log: Logger): void {
  buffers.get(db)?.flushOnClose(log);
}

/** The store's write health of an open database; null when no round was submitted in this process. */
export function storeHealth(db: Db): StoreHealth | null {
  return buffers.get(db)?.health ?? null;
}
