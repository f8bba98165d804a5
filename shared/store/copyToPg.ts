/**
 * Copy a SQLite store into PostgreSQL, history included (`edgefleet migrate`): every table of
 * the schema, in key order, in batches; each batch one PostgreSQL transaction that also records
 * how far the table got (`edgefleet_copy`), so an interrupted copy resumes where it stopped and
 * a finished one copies nothing twice (rows already there are kept: ON CONFLICT DO NOTHING).
 * The partitions the history needs are made first; identity sequences are moved past the
 * copied ids at the end, so new rows get new ids.
 */
import type { Db } from './db.js';
import { ensurePartitions } from './pgPartitions.js';
import { PARTITIONED_TABLES } from './pgDialect.js';
import type { PgDb } from './pg.js';

/** Transient: whoever holds a lease now is in the SQLite world. */
const SKIP = new Set(['leases', 'edgefleet_schema', 'edgefleet_copy']);
const BATCH_ROWS = 5000;

export interface CopyProgress {
  table: string;
  copied: number;
  total: number;
}

export interface CopySummary {
  tables: { table: string; rows: number; skipped: number }[];
  durationMs: number;
}

const PG_TYPE: Record<string, string> = { int8: 'bigint', int4: 'integer', float8: 'float8', text: 'text', bytea: 'bytea' };

export async function copySqliteToPg(src: Db, dst: PgDb, o: { source: string; onProgress?: (p: CopyProgress) => void; batchRows?: number } = { source: '' }): Promise<CopySummary> {
  const t0 = performance.now();
  const batch = o.batchRows ?? BATCH_ROWS;
  await dst.query('CREATE TABLE IF NOT EXISTS edgefleet_copy (source TEXT NOT NULL, tbl TEXT NOT NULL, last_key TEXT NOT NULL, rows BIGINT NOT NULL, PRIMARY KEY (source, tbl))');
  // Parents before children (foreign keys): the order the migrations created them in.
  const tables = (src.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid").all() as { name: string }[])
    .map((r) => r.name)
    .filter((t) => !SKIP.has(t));
  const summary: CopySummary = { tables: [], durationMs: 0 };
  // Into an empty store only (or one this copy began): ids of nodes already there would not match.
  const [started] = await dst.query<{ n: number }>('SELECT COUNT(*)::bigint AS n FROM edgefleet_copy WHERE source = $1', [o.source]);
  const [present] = await dst.query<{ n: number }>('SELECT COUNT(*)::bigint AS n FROM nodes');
  if (!started!.n && present!.n) {
    throw new Error(`the PostgreSQL store ${dst.where} already has ${present!.n} nodes: edgefleet migrate copies into an empty database (create one: createdb), so that node ids and history match`);
  }
  for (const table of tables) {
    const pgCols = await dst.query<{ column_name: string; udt_name: string }>(
      "SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
      [table],
    );
    if (pgCols.length === 0) throw new Error(`table ${table} of ${o.source} is not in the PostgreSQL schema: is the SQLite file from a newer edgefleet?`);
    const info = src.prepare(`PRAGMA table_info(${table})`).all() as { name: string; pk: number }[];
    const cols = info.map((c) => c.name).filter((c) => pgCols.some((p) => p.column_name === c));
    const pk = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    const keyCols = pk.length ? pk : ['rowid'];
    const types = cols.map((c) => PG_TYPE[pgCols.find((p) => p.column_name === c)!.udt_name] ?? 'text');
    const total = (src.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    const [state] = await dst.query<{ last_key: string; rows: number }>('SELECT last_key, rows FROM edgefleet_copy WHERE source = $1 AND tbl = $2', [o.source, table]);
    let last: unknown[] | undefined = state ? (JSON.parse(state.last_key) as unknown[]) : undefined;
    let copied = state?.rows ?? 0;
    const before = copied;
    if (PARTITIONED_TABLES.includes(table as (typeof PARTITIONED_TABLES)[number]) && total > 0) {
      const r = src.prepare(`SELECT MIN(time) AS a, MAX(time) AS b FROM ${table}`).get() as { a: number; b: number };
      await ensurePartitions(dst, r.a, r.b);
    }
    const keyList = keyCols.join(', ');
    const selectCols = [...new Set([...cols, ...keyCols])];
    const quote = (c: string) => (c === 'user' ? '"user"' : c);
    const next = src.prepare(
      `SELECT ${selectCols.join(', ')} FROM ${table} WHERE (${keyList}) > (${keyCols.map(() => '?').join(', ')}) ORDER BY ${keyList} LIMIT ${batch}`,
    );
    const first = src.prepare(`SELECT ${selectCols.join(', ')} FROM ${table} ORDER BY ${keyList} LIMIT ${batch}`);
    const insert = `INSERT INTO ${table} (${cols.map(quote).join(', ')}) SELECT * FROM unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) ON CONFLICT DO NOTHING`;
    for (;;) {
      const rows = (last ? next.all(...last) : first.all()) as Record<string, unknown>[];
      if (rows.length === 0) break;
      const lastRow = rows[rows.length - 1]!;
      last = keyCols.map((k) => lastRow[k]);
      const arrays = cols.map((c) => rows.map((r) => r[c] ?? null));
      await dst.tx(async (c) => {
        await c.query(insert, arrays);
        await c.query(
          `INSERT INTO edgefleet_copy (source, tbl, last_key, rows) VALUES ($1, $2, $3, $4)
           ON CONFLICT (source, tbl) DO UPDATE SET last_key = excluded.last_key, rows = excluded.rows`,
          [o.source, table, JSON.stringify(last), copied + rows.length],
        );
      });
      copied += rows.length;
      o.onProgress?.({ table, copied, total });
      if (rows.length < batch) break;
    }
    // Identity columns continue after the copied ids.
    if (pk.length === 1 && pk[0] === 'id' && pgCols.find((p) => p.column_name === 'id')?.udt_name === 'int8') {
      await dst.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), GREATEST((SELECT MAX(id) FROM ${table}), 1))`).catch(() => undefined);
    }
    summary.tables.push({ table, rows: copied - before, skipped: before });
  }
  summary.durationMs = Math.round(performance.now() - t0);
  return summary;
}
