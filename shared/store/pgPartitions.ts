/**
 * The daily partitions of PostgreSQL's time-series tables (pgDialect.ts PARTITIONED_TABLES):
 * `<table>_pYYYYMMDD` holds [UTC midnight, next midnight) of `time`. They are created ahead (at
 * open: yesterday to two days on) and on demand for any day a write or a copy reaches, under
 * an advisory lock so two hubs never race on the DDL. Retention drops whole partitions.
 */
import type { PgDb } from './pg.js';
import { PARTITIONED_TABLES } from './pgDialect.js';

const DAY = 86400;
const ADVISORY_PARTITIONS = 720_020_002;
/** dropExpiredPartitions: how long it waits for the parents' locks per try, and how many tries. */
const LOCK_WAIT_MS = 400;
const LOCK_TRIES = 5;
const LOCK_PAUSE_MS = 500;

export const dayOf = (unixSeconds: number): number => Math.floor(unixSeconds / DAY) * DAY;

export function partitionName(table: string, day: number): string {
  return `${table}_p${new Date(day * 1000).toISOString().slice(0, 10).replace(/-/g, '')}`;
}

/** Days (UTC midnights) every partitioned table has a partition for. */
export async function knownPartitionDays(db: PgDb): Promise<number[]> {
  const rows = await db.query<{ table: string; child: string }>(
    `SELECT p.relname AS table, c.relname AS child FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
     WHERE p.relname = ANY($1)`,
    [PARTITIONED_TABLES],
  );
  const perDay = new Map<number, number>();
  for (const r of rows) {
    const m = /_p(\d{4})(\d{2})(\d{2})$/.exec(r.child);
    if (!m) continue;
    const day = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000;
    perDay.set(day, (perDay.get(day) ?? 0) + 1);
  }
  return [...perDay].filter(([, n]) => n === PARTITIONED_TABLES.length).map(([d]) => d);
}

/** Make sure every day in [fromUnixSeconds, toUnixSeconds] has its partitions. Cheap when they do (the cache). */
export async function ensurePartitions(db: PgDb, fromUnixSeconds: number, toUnixSeconds: number): Promise<number> {
  const missing: number[] = [];
  for (let d = dayOf(fromUnixSeconds); d <= dayOf(toUnixSeconds); d += DAY) if (!db.partitionDays.has(d)) missing.push(d);
  if (missing.length === 0) return 0;
  await db.tx(async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_PARTITIONS]);
    for (const d of missing) {
      for (const t of PARTITIONED_TABLES) {
        await c.query(`CREATE TABLE IF NOT EXISTS ${partitionName(t, d)} PARTITION OF ${t} FOR VALUES FROM (${d}) TO (${d + DAY})`);
      }
    }
  });
  for (const d of missing) db.partitionDays.add(d);
  return missing.length;
}

/**
 * Drop the partitions of `table` that lie wholly before `cutoffUnixSeconds`: the rows of a
 * whole day go at once, without a row-by-row DELETE. The day the cutoff falls in is kept
 * whole, so PostgreSQL keeps up to a day more than the retention says. Returns the rows dropped.
 */
export async function dropPartitionsBefore(db: PgDb, table: string, cutoffUnixSeconds: number): Promise<number> {
  return (await dropExpiredPartitions(db, new Map([[table, cutoffUnixSeconds]]))).get(table) ?? 0;
}

/**
 * dropPartitionsBefore for several tables, each with its cutoff, in ONE transaction: one catalog
 * read, one DROP TABLE naming every expired partition, one commit. Retention of a day of a big
 * fleet is then one commit's wait and the files' truncation, not a transaction (its lock, its
 * catalog reads, its WAL flush) per table and day (bench:store: 1.1 s for 17 tables' days on the
 * loaded machine, one at a time). Nothing is dropped unless all of it is: a failure rolls back
 * every table's drop. Returns the rows dropped per table (0 for a table with none expired).
 *
 * No deadlock with the writers: dropping a partition locks its parent ACCESS EXCLUSIVE, and a
 * round's transaction takes the parents one after another, so holding one parent while waiting
 * for another could close a cycle. All the parents are locked first, in one LOCK TABLE, under a
 * lock_timeout shorter than deadlock_timeout (PostgreSQL's default 1 s): a wait gives up before
 * any deadlock check runs, the transaction rolls back, and it tries again after a pause; after
 * LOCK_TRIES it falls back to one table a transaction, which holds one parent at a time.
 */
export async function dropExpiredPartitions(db: PgDb, cutoffs: ReadonlyMap<string, number>): Promise<Map<string, number>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await dropExpiredOnce(db, cutoffs, LOCK_WAIT_MS);
    } catch (e) {
      if ((e as { code?: string }).code !== '55P03') throw e;
      if (attempt < LOCK_TRIES) await new Promise((r) => setTimeout(r, LOCK_PAUSE_MS));
      else break;
    }
  }
  // Writers never let go of all the parents at once: a table at a time, each waiting as long as it takes.
  const dropped = new Map<string, number>();
  for (const [table, cutoff] of cutoffs) dropped.set(table, (await dropExpiredOnce(db, new Map([[table, cutoff]]), undefined)).get(table)!);
  return dropped;
}

async function dropExpiredOnce(db: PgDb, cutoffs: ReadonlyMap<string, number>, lockWaitMs: number | undefined): Promise<Map<string, number>> {
  const dropped = new Map([...cutoffs.keys()].map((t) => [t, 0]));
  if (cutoffs.size === 0) return dropped;
  const days: number[] = [];
  await db.tx(async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_PARTITIONS]);
    const rows = (
      await c.query<{ table: string; child: string; est: number }>(
        `SELECT p.relname AS table, c.relname AS child, c.reltuples::bigint AS est FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
         WHERE p.relname = ANY($1)`,
        [[...cutoffs.keys()]],
      )
    ).rows;
    const expired: { table: string; child: string; est: number; day: number }[] = [];
    for (const r of rows) {
      const m = /_p(\d{4})(\d{2})(\d{2})$/.exec(r.child);
      if (!m) continue;
      const day = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000;
      if (day + DAY <= cutoffs.get(r.table)!) expired.push({ ...r, est: Number(r.est), day });
    }
    if (expired.length === 0) return;
    const parents = [...new Set(expired.map((e) => e.table))].sort();
    if (lockWaitMs !== undefined) await c.query(`SET LOCAL lock_timeout = ${lockWaitMs}`);
    await c.query(`LOCK TABLE ONLY ${parents.join(', ')} IN ACCESS EXCLUSIVE MODE`);
    // A small partition is counted; a big one (a day of a large fleet) reports the planner's
    // estimate: counting millions of rows would cost more than the drop. All small ones in one query.
    const small = expired.filter((e) => !(e.est > 100_000));
    const counts = small.length
      ? (await c.query<Record<string, number>>(`SELECT ${small.map((e, i) => `(SELECT COUNT(*) FROM ${e.child})::bigint AS n${i}`).join(', ')}`)).rows[0]!
      : {};
    small.forEach((e, i) => (e.est = Number(counts[`n${i}`])));
    await c.query(`DROP TABLE IF EXISTS ${expired.map((e) => e.child).join(', ')}`);
    for (const e of expired) {
      dropped.set(e.table, dropped.get(e.table)! + e.est);
      days.push(e.day);
    }
  });
  // A day may no longer be whole for the tables that lost it: ensurePartitions looks again.
  for (const d of days) db.partitionDays.delete(d);
  return dropped;
}
