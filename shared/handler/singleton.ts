/**
 * Singleton jobs (rollup, retention, the model sync, detectAnomalies, geolocate) when many hubs share one
 * PostgreSQL store: each period of a job runs once across all hubs. A hub first takes the job's
 * lease (`job:NAME`, so two runs never overlap), renewed while the job runs (a live holder keeps
 * it however long the run takes; one that dies stops renewing and loses it within `leaseMs`),
 * then claims the period in `job_runs` (the primary key lets one hub in). Another hub's tick
 * finds either taken and skips. A period claimed by a hub that died before finishing it is
 * taken over by the next hub that gets the lease (claimPeriod: unfinished), and so is one whose
 * run failed (the next tick retries it).
 * On SQLite (one hub, one file) every run goes ahead, as before.
 */
import { HUB_ID } from '../collect/shardLeases.js';
import type { Store } from '../store/store.js';

export type Skipped = { skipped: string };

/** A job's lease: renewed every third of it while the job runs. */
export const JOB_LEASE_MS = 60_000;
/** Periods of a job kept in job_runs (older ones are deleted as a run finishes): a bound, and a record to read. */
export const KEEP_PERIODS = 100;

export interface OnceOptions {
  owner?: string;
  leaseMs?: number;
  /** The clock, epoch ms (tests). */
  nowMs?: () => number;
}

export async function oncePerPeriod<T>(store: Store, job: string, periodSeconds: number, run: () => Promise<T>, o: OnceOptions = {}): Promise<T | Skipped> {
  if (store.kind === 'sqlite') return run();
  const owner = o.owner ?? HUB_ID;
  const leaseMs = o.leaseMs ?? JOB_LEASE_MS;
  const lease = `job:${job}`;
  // A period under a second (collectAll's model sync with models.syncIntervalSeconds 0) is one second.
  periodSeconds = Math.max(1, Math.round(periodSeconds));
  const period = Math.floor((o.nowMs ?? Date.now)() / 1000 / periodSeconds) * periodSeconds;
  if (!(await store.tryLease(lease, owner, leaseMs))) return { skipped: `${job} runs on another hub` };
  const heartbeat = setInterval(() => void store.tryLease(lease, owner, leaseMs).catch(() => undefined), Math.max(100, leaseMs / 3));
  heartbeat.unref();
  try {
    if (!(await store.claimPeriod(job, period, owner))) return { skipped: `${job} of this period ran on another hub` };
    const out = await run();
    await store.finishPeriod(job, period, owner);
    // job_runs keeps the job's last KEEP_PERIODS periods: a period is only ever asked for while it is now.
    await store.sql.run('DELETE FROM job_runs WHERE job = ? AND period_unix_seconds < ?', [job, period - KEEP_PERIODS * periodSeconds]);
    return out;
  } finally {
    clearInterval(heartbeat);
    await store.releaseLease(lease, owner);
  }
}

/** A scheduler's tick (EventBridge, or the hub's own schedule), not a run someone asked for. */
export function isScheduledEvent(event: unknown): boolean {
  return typeof event === 'object' && event !== null && (event as Record<string, unknown>)['detail-type'] === 'Scheduled Event';
}
