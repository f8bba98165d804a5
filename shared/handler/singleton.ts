/**
 * Singleton jobs (rollup, retention, the model sync) when many hubs share one PostgreSQL store: each period of
 * a job runs once across all hubs. A hub first takes the job's lease (`job:NAME`, so two runs
 * never overlap; one that dies holding it loses it at expiry), then claims the period in
 * `job_runs` (the primary key lets one hub in). Another hub's tick finds either taken and skips.
 * On SQLite (one hub, one file) every run goes ahead, as before.
 */
import { HUB_ID } from '../collect/shardLeases.js';
import type { Store } from '../store/store.js';

export type Skipped = { skipped: string };

export async function oncePerPeriod<T>(store: Store, job: string, periodSeconds: number, run: () => Promise<T>, owner = HUB_ID): Promise<T | Skipped> {
  if (store.kind === 'sqlite') return run();
  // A period under a second (collectAll's model sync with models.syncIntervalSeconds 0) is one second.
  periodSeconds = Math.max(1, Math.round(periodSeconds));
  const period = Math.floor(Date.now() / 1000 / periodSeconds) * periodSeconds;
  // Long enough for a run, short enough that a dead holder's job moves on within a period or two.
  const leaseMs = Math.max(60, periodSeconds) * 1000;
  if (!(await store.tryLease(`job:${job}`, owner, leaseMs))) return { skipped: `${job} runs on another hub` };
  try {
    if (!(await store.claimPeriod(job, period, owner))) return { skipped: `${job} of this period ran on another hub` };
    const out = await run();
    await store.finishPeriod(job, period, owner);
    return out;
  } finally {
    await store.releaseLease(`job:${job}`, owner);
  }
}
