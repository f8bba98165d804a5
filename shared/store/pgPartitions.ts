/**
 * The daily partitions of PostgreSQL's time-series tables (pgDialect.ts PARTITIONED_TABLES):
 * `<table>_pYYYYMMDD` holds [UTC midnight, next midnight) of `time`. They are created ahead (at
 * open: yesterday to two days on) and on demand for any day a write or a copy reaches, under
 * an advisory lock so two hubs never race on the DDL. Retention drops whole partitions.
 */
import type { PgDb } from './pg.js';
import { PARTITIONED_TABLES, UNSUMMARIZED_BRIN } from './pgDialect.js';

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
    const made: string[] = [];
    for (const d of missing) {
      for (const t of PARTITIONED_TABLES) {
        await c.query(`CREATE TABLE IF NOT EXISTS ${partitionName(t, d)} PARTITION OF ${t} FOR VALUES FROM (${d}) TO (${d + DAY})`);
        made.push(partitionName(t, d));
      }
    }
    // Their BRIN indexes summarize as they fill (migration 19 did the partitions before it): a
    // partitioned index's own options cannot be changed, and a new partition takes the parent's.
    const brin = (await c.query<{ name: string }>(`${UNSUMMARIZED_BRIN} AND t.relname = ANY($1)`, [made])).rows;
    if (brin.length) await c.query(brin.map((b) => `ALTER INDEX "${b.name}" SET (autosummarize = on)`).join('; '));
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
 * dropPartitionsBefore for several tables, each with its cutoff, in two short steps. First, in
 * ONE transaction, every expired partition is DETACHED (one catalog read, the parents locked,
 * a catalog change per partition, one commit): from then on no query sees those days, and the
 * parents are free again within milliseconds — nothing is dropped unless all of it is detached
 * (a failure rolls back every table's detach). Then the detached tables are dropped, in a
 * transaction that locks nothing any writer or reader of the parents needs: the drop's commit
 * is where the files are truncated and unlinked, which on a day of a big fleet (~20 GB) takes the
 * kernel seconds (bench:store measures it beside a plain truncate of the same filesystem), and
 * no round should wait for that. A table left detached by a hub that died between the two steps
 * is dropped by the next retention (`leftovers`). Returns the rows dropped per table (0 for a
 * table with none expired).
 *
 * No deadlock with the writers: detaching a partition locks its parent ACCESS EXCLUSIVE, and a
 * round's transaction takes the parents one after another, so holding one parent while waiting
 * for another could close a cycle. All the parents are locked first, in one LOCK TABLE, under a
 * lock_timeout shorter than deadlock_timeout (PostgreSQL's default 1 s): a wait gives up before
 * any deadlock check runs, the transaction rolls back, and it tries again after a pause; after
 * LOCK_TRIES it falls back to one table a transaction, which holds one parent at a time.
 */
export async function dropExpiredPartitions(db: PgDb, cutoffs: ReadonlyMap<string, number>, timings?: RetentionTimings): Promise<Map<string, number>> {
  const t0 = performance.now();
  const dropped = new Map([...cutoffs.keys()].map((t) => [t, 0]));
  const detached: string[] = [];
  const add = (r: Detached) => {
    for (const [t, n] of r.rows) dropped.set(t, dropped.get(t)! + n);
    detached.push(...r.children);
  };
  let done = false;
  for (let attempt = 1; !done; attempt++) {
    try {
      add(await detachExpiredOnce(db, cutoffs, LOCK_WAIT_MS));
      done = true;
    } catch (e) {
      if ((e as { code?: string }).code !== '55P03') throw e;
      if (attempt < LOCK_TRIES) await new Promise((r) => setTimeout(r, LOCK_PAUSE_MS));
      else break;
    }
  }
  // Writers never let go of all the parents at once: a table at a time, each waiting as long as it takes.
  if (!done) for (const [table, cutoff] of cutoffs) add(await detachExpiredOnce(db, new Map([[table, cutoff]]), undefined));
  const t1 = performance.now();
  const gone = [...detached, ...(await leftovers(db, [...cutoffs.keys()], detached))];
  if (gone.length) await db.tx(async (c) => void (await c.query(`DROP TABLE IF EXISTS ${gone.join(', ')}`)));
  if (timings) Object.assign(timings, { detachMs: t1 - t0, dropMs: performance.now() - t1, tables: gone.length });
  return dropped;
}

/** Where dropExpiredPartitions' time went: the detach (the parents locked), then the detached tables' drop (nothing shared locked). */
export interface RetentionTimings {
  detachMs?: number;
  dropMs?: number;
  tables?: number;
}

interface Detached {
  rows: Map<string, number>;
  children: string[];
}

/** Partitions of `tables`, by their names, that are attached to nothing: left detached by a retention that did not finish. */
async function leftovers(db: PgDb, tables: string[], justDetached: string[]): Promise<string[]> {
  if (tables.length === 0) return [];
  const rows = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c
     WHERE c.relkind = 'r' AND c.relname ~ ('^(' || array_to_string($1::text[], '|') || ')_p[0-9]{8}$')
       AND NOT c.relispartition AND c.relnamespace = to_regnamespace(current_schema())`,
    [tables],
  );
  return rows.map((r) => r.name).filter((n) => !justDetached.includes(n));
}

async function detachExpiredOnce(db: PgDb, cutoffs: ReadonlyMap<string, number>, lockWaitMs: number | undefined): Promise<Detached> {
  const dropped = new Map([...cutoffs.keys()].map((t) => [t, 0]));
  const children: string[] = [];
  if (cutoffs.size === 0) return { rows: dropped, children };
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
    // One statement, one round trip, for every partition.
    await c.query(expired.map((e) => `ALTER TABLE ${e.table} DETACH PARTITION ${e.child}`).join('; '));
    for (const e of expired) {
      dropped.set(e.table, dropped.get(e.table)! + e.est);
      children.push(e.child);
      days.push(e.day);
    }
  });
  // A day may no longer be whole for the tables that lost it: ensurePartitions looks again.
  for (const d of days) db.partitionDays.delete(d);
  return { rows: dropped, children };
}
