/**
 * Request spacing for a geocoding server (Nominatim's usage policy: at most one request per
 * second). One request at a time per server, and the next starts no sooner than `minIntervalMs`
 * after the previous one *ended*, so the server sees the gap even when a response is slow.
 *
 * Within a process the limiter for a server is shared by every caller (the hub runs collectAll
 * and the daily geolocate handler side by side). Across processes (`edgefleet geolocate` while
 * the hub runs) an optional SlotStore — a row in the database — carries the next free time.
 */

/** Where the next free request time of a server is kept across processes. */
export interface SlotStore {
  /**
   * Atomically: a request to start now, at `nowMs`, if the store allows one now (none started
   * within `minIntervalMs` before): then it is claimed (the next may start `minIntervalMs` later)
   * and `nowMs` comes back. Otherwise the time the next may start, NOT claimed: ask again then.
   * Claiming only the present (never a slot ahead) keeps the requests of several processes
   * `minIntervalMs` apart as sent, however late a process's timer wakes it.
   */
  reserve(server: string, nowMs: number, minIntervalMs: number): number | Promise<number>;
  /** The request that started in a reserved slot ended at `endedMs`: nothing starts before `endedMs + minIntervalMs`. */
  release(server: string, endedMs: number, minIntervalMs: number): void | Promise<void>;
}

export class RateLimiter {
  /** Earliest start of the next request, epoch ms. */
  private nextMs = 0;
  /** The tail of the queue: one request at a time. */
  private tail: Promise<void> = Promise.resolve();

  constructor(
    readonly server: string,
    public minIntervalMs: number,
  ) {}

  /**
   * Run `fn` when its turn comes: after every earlier call has ended and `minIntervalMs` has
   * passed since. `slots` (optional) spaces requests of other processes too.
   */
  schedule<T>(fn: () => Promise<T>, slots?: SlotStore): Promise<T> {
    const run = async () => {
      let start = Math.max(Date.now(), this.nextMs);
      for (;;) {
        // setTimeout may wake a millisecond early against Date.now(): loop until the slot is reached.
        for (let wait = start - Date.now(); wait > 0; wait = start - Date.now()) await sleep(wait);
        if (!slots) break;
        const now = Date.now();
        const next = await slots.reserve(this.server, now, this.minIntervalMs);
        if (next <= now) break;
        start = next;
      }
      try {
        return await fn();
      } finally {
        const ended = Date.now();
        this.nextMs = ended + this.minIntervalMs;
        await slots?.release(this.server, ended, this.minIntervalMs);
      }
    };
    const result = this.tail.then(run);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

const limiters = new Map<string, RateLimiter>();

/** The process-wide limiter of one server (its origin): every client of that server shares it. */
export function limiterFor(server: string, minIntervalMs: number): RateLimiter {
  let limiter = limiters.get(server);
  if (!limiter) limiters.set(server, (limiter = new RateLimiter(server, minIntervalMs)));
  // Two configurations for one server: the more polite interval wins.
  limiter.minIntervalMs = Math.max(limiter.minIntervalMs, minIntervalMs);
  return limiter;
}

/** Forget every limiter (tests that reuse a port with another interval). */
export function resetLimiters(): void {
  limiters.clear();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
