/**
 * A collected SQLite database copied table for table into a PostgreSQL database, for the
 * dashboard equivalence test: each table with its columns in SQLite's order and PostgreSQL's
 * types for SQLite's (INTEGER → BIGINT, REAL → DOUBLE PRECISION, TEXT → TEXT, as the store's
 * PostgreSQL schema has them), rows by COPY … CSV. Tables holding BLOBs (the remote-write queue)
 * are left out: no dashboard reads them.
 */
import type { Db } from '../../shared/store/db.js';
import type { PgCluster } from '../harness/pgCluster.js';

const PG_TYPE: Record<string, string> = { INTEGER: 'BIGINT', REAL: 'DOUBLE PRECISION', TEXT: 'TEXT' };

const csvField = (v: unknown): string => {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  return `"${String(v).replace(/"/g, '""')}"`;
};

export function copySqliteToPostgres(db: Db, pg: PgCluster): string[] {
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[]).filter(
    (t) => !(db.prepare(`PRAGMA table_info("${t}")`).all() as { type: string }[]).some((c) => c.type.toUpperCase() === 'BLOB'),
  );
  for (const t of tables) {
    const cols = db.prepare(`PRAGMA table_info("${t}")`).all() as { name: string; type: string }[];
    const quoted = cols.map((c) => `"${c.name}"`);
    pg.exec(`CREATE TABLE "${t}" (${cols.map((c, i) => `${quoted[i]} ${PG_TYPE[c.type.toUpperCase()] ?? 'TEXT'}`).join(', ')})`);
    const rows = db.prepare(`SELECT ${quoted.join(', ')} FROM "${t}"`).raw(true).all() as unknown[][];
    if (rows.length) pg.exec(`COPY "${t}" FROM STDIN (FORMAT csv)`, rows.map((r) => r.map(csvField).join(',')).join('\n') + '\n');
  }
  pg.exec('ANALYZE');
  return tables;
}
