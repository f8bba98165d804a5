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
import type { NodeOutcome } from './nodes.js';
import type { CollectorRun, CounterState, NodeReadings } from './readings.js';
import { sqliteStore } from './sqliteStore.js';
import type { Store } from './store.js';
import type { SqlDb } from './sql.js';

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
  /** Which hub wrote it, for which shards (`1/4,3/4`): many hubs on one store (PostgreSQL). */
  hub?: string;
  shards?: string;
  /** Runs inside the round's transaction after its rows, on the store's SQL port (remote write queues the round there). */
  alsoInTransaction?: (sql: SqlDb) => Promise<void>;
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

/**
 * Conditions that pass. SQLite: a lock, a full disk, an I/O error, a read-only remount.
 * PostgreSQL (SQLSTATE classes): a lost or refused connection (08, 57P), a serialization
 * failure or deadlock (40), no resources (53: disk full, too many connections), a lock or
 * statement timeout (55P03, 57014), a network error of the driver. Anything else (a bug, a
 * constraint) would fail every retry.
 */
export function isTransientStoreError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== 'string') return false;
  return /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|READONLY|PROTOCOL|NOMEM)/.test(code) || /^(08|40|53|57P)|^55P03$|^57014$|^E(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH|NOTFOUND)$/.test(code);
}

/** A lock to wait for (the try itself waited a slice): SQLite busy or locked, PostgreSQL lock_not_available. */
const isLockWait = (e: unknown) => /^SQLITE_(BUSY|LOCKED)|^55P03$/.test(String((e as { code?: unknown }).code));

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

  constructor(private readonly store: Store) {}

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
    const deadlineMs = o.deadlineMs;
    let flushed = 0;
    let attempts = 0;
    let backoffMs = 50;
    for (;;) {
      attempts++;
      try {
        while (this.#pending.length) {
          await this.#writeOne(this.#pending[0]!.round);
          this.#shift();
          flushed++;
          // A long backlog must not hold the routes up: one round per turn of the event loop.
          await new Promise((r) => setImmediate(r));
        }
        const roundId = await this.#writeOne(round);
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
        if (isLockWait(e)) {
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
  async flushOnClose(log: Logger): Promise<void> {
    let written = 0;
    try {
      while (this.#pending.length) {
        await this.#writeOne(this.#pending[0]!.round, false);
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

  /** One round in one transaction; a lock is waited for one slice at a time (the caller sleeps between tries), or the store's whole busy timeout at close. */
  #writeOne(r: RoundWrite, sliced = true): Promise<number> {
    return this.store.writeRound(r, sliced ? { lockWaitMs: LOCK_SLICE_MS } : {});
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

const buffers = new WeakMap<object, RoundBuffer>();
const storeOf = (s: Db | Store): Store => ('kind' in s && (s.kind === 'sqlite' || s.kind === 'postgres') && 'writeRound' in s ? (s as Store) : sqliteStore(s as Db));
/** The one buffer of an open store (per process: a cold Lambda starts with none). */
export function roundBuffer(s: Db | Store): RoundBuffer {
  const store = storeOf(s);
  let b = buffers.get(store);
  if (!b) buffers.set(store, (b = new RoundBuffer(store)));
  return b;
}

/** Write what the store's buffer holds, if it has one, before the store is closed. */
export async function flushRoundsOnClose(s: Db | Store, log: Logger): Promise<void> {
  await buffers.get(storeOf(s))?.flushOnClose(log);
}

/** The store's write health; null when no round was submitted in this process. */
export function storeHealth(s: Db | Store): StoreHealth | null {
  return buffers.get(storeOf(s))?.health ?? null;
}
