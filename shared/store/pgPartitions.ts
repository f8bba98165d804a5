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
  const rows = await db.query<{ child: string }>(
    `SELECT c.relname AS child FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1`,
    [table],
  );
  let dropped = 0;
  for (const { child } of rows) {
    const m = /_p(\d{4})(\d{2})(\d{2})$/.exec(child);
    if (!m) continue;
    const day = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000;
    if (day + DAY > cutoffUnixSeconds) continue;
    await db.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_PARTITIONS]);
      // A small partition is counted; a big one (a day of a large fleet) reports the planner's
      // estimate: counting millions of rows would cost more than the drop.
      const est = (await c.query<{ n: number }>(`SELECT reltuples::bigint AS n FROM pg_class WHERE relname = $1`, [child])).rows[0]?.n ?? -1;
      const n = est > 100_000 ? est : (await c.query<{ n: number }>(`SELECT COUNT(*)::bigint AS n FROM ${child}`)).rows[0]!.n;
      await c.query(`DROP TABLE IF EXISTS ${child}`);
      dropped += n;
    });
    db.partitionDays.delete(day);
  }
  return dropped;
}
