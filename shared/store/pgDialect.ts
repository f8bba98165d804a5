/**
 * The one migration list (migrations.ts, written in SQLite's dialect) as PostgreSQL runs it.
 * Version N is the same schema in both stores; the translation is mechanical (types, rowid
 * tables, quoting) plus, for the time-series tables, native declarative partitioning by `time`
 * (one partition a day, pgPartitions.ts), so that retention drops whole partitions.
 *
 * Migrations whose SQLite text cannot be translated word for word get their PostgreSQL text in
 * PG_OVERRIDES, keyed by version. PostgreSQL support arrived with version 13: a PostgreSQL
 * database is created at 13 or later, so an override of a version ≤ 13 only ever runs on an
 * empty database. A migration appended later must keep a live PostgreSQL database's rows.
 */

/** The tables migration 13 created partitioned (and gave a BRIN index): fixed, as that migration is. */
const PARTITIONED_AT_13 = ['temperature', 'cpu', 'load', 'memory', 'storage', 'network', 'diskio', 'inodes', 'pressure', 'nvidia_gpu', 'collector_runs', 'rollup_1m'] as const;

/** Migration 14's readings (issue 18), partitioned by migration 17, with their keys. */
const ISSUE_18_KEYS = {
  tegra_gpu: ['node_id', 'time', 'device'],
  power_rails: ['node_id', 'time', 'rail'],
  power: ['node_id', 'time'],
  cpu_frequency: ['node_id', 'time', 'cpu'],
  cpu_throttle: ['node_id', 'time', 'cpu'],
  rpi_throttled: ['node_id', 'time'],
} as const;

/**
 * Time-series tables partitioned by day on `time` (unix seconds). Their unique keys all include
 * `time`. inference since migration 16, issue 18's readings since 17.
 */
export const PARTITIONED_TABLES = [...PARTITIONED_AT_13, 'inference', ...(Object.keys(ISSUE_18_KEYS) as (keyof typeof ISSUE_18_KEYS)[])] as const;

/**
 * A live table made partitioned by day in place: renamed, the partitioned one created like it
 * (columns, NOT NULL, defaults) with its primary key and a BRIN index on time, a partition for
 * each day its rows span (named as pgPartitions.ts names them), the rows copied, the old dropped.
 */
function partitionInPlace(table: string, key: readonly string[], version: number): string {
  const old = `${table}_before_${version}`;
  return `
  ALTER TABLE ${table} RENAME TO ${old};
  ALTER INDEX IF EXISTS ${table}_pkey RENAME TO ${old}_pkey;
  CREATE TABLE ${table} (LIKE ${old} INCLUDING DEFAULTS) PARTITION BY RANGE (time);
  ALTER TABLE ${table} ADD PRIMARY KEY (${key.join(', ')});
  CREATE INDEX ${table}_time_brin ON ${table} USING brin (time);
  DO $$
  DECLARE d BIGINT;
  BEGIN
    FOR d IN SELECT DISTINCT (time / 86400) * 86400 FROM ${old} LOOP
      EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF ${table} FOR VALUES FROM (%s) TO (%s)',
        '${table}_p' || to_char(to_timestamp(d) AT TIME ZONE 'UTC', 'YYYYMMDD'), d, d + 86400);
    END LOOP;
  END $$;
  INSERT INTO ${table} SELECT * FROM ${old};
  DROP TABLE ${old};
  `;
}

/** The BRIN indexes of partitions that do not summarize as they fill (`name`); a caller may add `AND …` on `t`, the partition. */
export const UNSUMMARIZED_BRIN = `SELECT ci.relname AS name FROM pg_index i
      JOIN pg_class ci ON ci.oid = i.indexrelid JOIN pg_am a ON a.oid = ci.relam JOIN pg_class t ON t.oid = i.indrelid
    WHERE a.amname = 'brin' AND ci.relkind = 'i' AND t.relispartition
      AND NOT COALESCE(ci.reloptions @> ARRAY['autosummarize=on'], false)`;

/** Column names that PostgreSQL reserves and SQLite does not. */
const RESERVED = ['user'];

const PG_OVERRIDES: Record<number, string> = {
  // 8 rebuilt collector_runs from its rows and grouped kinds with group_concat; on the empty
  // database it meets in PostgreSQL, the new table straight away.
  8: `
  CREATE TABLE rounds (
    id INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    started_unix_ms INTEGER NOT NULL,
    written_unix_ms INTEGER NOT NULL,
    nodes INTEGER NOT NULL,
    kinds TEXT NOT NULL
  );
  CREATE INDEX rounds_time ON rounds (time);
  DROP TABLE collector_runs;
  CREATE TABLE collector_runs (
    node_id INTEGER NOT NULL,
    time INTEGER NOT NULL,
    round_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    success INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    rows INTEGER NOT NULL,
    error TEXT,
    PRIMARY KEY (node_id, time, round_id, kind)
  ) WITHOUT ROWID;
  CREATE INDEX collector_runs_time ON collector_runs (time);
  CREATE INDEX collector_runs_round ON collector_runs (round_id);
  `,
  // 16: inference partitioned by day, on a live database: the table renamed, the partitioned one
  // created with the same columns, a partition for each day the old rows span, the rows (and ids)
  // copied, the identity moved past them. A partitioned table's unique keys must hold the
  // partition column: line_key's index becomes (line_key, time), the same dedup, since a line
  // (or a pushed record) read again has the same time; and there is no primary key on id.
  16: `
  ALTER TABLE inference RENAME TO inference_before_16;
  ALTER TABLE inference_before_16 ALTER COLUMN id DROP IDENTITY IF EXISTS;
  ALTER INDEX inference_node_time RENAME TO inference_before_16_node_time;
  ALTER INDEX inference_deployment_time RENAME TO inference_before_16_deployment_time;
  ALTER INDEX inference_line RENAME TO inference_before_16_line;
  CREATE TABLE inference (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY,
    node_id BIGINT NOT NULL,
    deployment_id TEXT,
    model TEXT NOT NULL,
    tag TEXT NOT NULL,
    time BIGINT NOT NULL,
    time_unix_ms DOUBLE PRECISION NOT NULL,
    latency_ms DOUBLE PRECISION,
    preprocess_ms DOUBLE PRECISION,
    infer_ms DOUBLE PRECISION,
    postprocess_ms DOUBLE PRECISION,
    batch BIGINT NOT NULL DEFAULT 1,
    input_id TEXT,
    label TEXT,
    score DOUBLE PRECISION,
    expected TEXT,
    error TEXT,
    source TEXT NOT NULL,
    line_key BIGINT NOT NULL
  ) PARTITION BY RANGE (time);
  CREATE INDEX inference_node_time ON inference (node_id, time);
  CREATE INDEX inference_deployment_time ON inference (deployment_id, node_id, time_unix_ms);
  CREATE UNIQUE INDEX inference_line ON inference (line_key, time);
  DO $$
  DECLARE d BIGINT;
  BEGIN
    FOR d IN SELECT DISTINCT (time / 86400) * 86400 FROM inference_before_16 LOOP
      EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF inference FOR VALUES FROM (%s) TO (%s)',
        'inference_p' || to_char(to_timestamp(d) AT TIME ZONE 'UTC', 'YYYYMMDD'), d, d + 86400);
    END LOOP;
  END $$;
  INSERT INTO inference SELECT * FROM inference_before_16;
  SELECT setval(pg_get_serial_sequence('inference', 'id'), GREATEST((SELECT MAX(id) FROM inference), 1));
  DROP TABLE inference_before_16;
  `,
  // 17: issue 18's readings partitioned by day, on a live database (their keys hold time already).
  17: Object.entries(ISSUE_18_KEYS).map(([t, key]) => partitionInPlace(t, key, 17)).join(''),
  // 19: the partitions' BRIN indexes summarize as they fill (pgPartitions.ts does the same for
  // every partition made after). An unsummarized range matches every query, so without it the
  // rollup job's and a panel's "last hour" read the whole day's tail until a vacuum comes by;
  // autovacuum summarizes a range once the next one starts. Catalog only: nothing is rebuilt.
  19: `
  DO $$
  DECLARE r RECORD;
  BEGIN
    FOR r IN ${UNSUMMARIZED_BRIN} LOOP
      EXECUTE format('ALTER INDEX %I SET (autosummarize = on)', r.name);
    END LOOP;
  END $$;
  `,
};

/**
 * PostgreSQL-only statements run after a version's own: indexes SQLite has no use for. BRIN on
 * `time` (a few pages per partition): rollups and retention read "every node, one hour", which
 * the (node_id, time, …) keys answer only node by node.
 */
const PG_APPEND: Record<number, string> = {
  13: PARTITIONED_AT_13.map((t) => `CREATE INDEX ${t}_time_brin ON ${t} USING brin (time);`).join('\n'),
};

/** Strip `-- …` comments (none of the migrations has `--` inside a string). */
const uncomment = (sql: string) => sql.replace(/--[^\n]*/g, '');

/** Migration `version` (1-based) of `sqlite`, in PostgreSQL's dialect. */
export function postgresMigration(sqlite: string, version: number): string {
  let sql = uncomment(PG_OVERRIDES[version] ?? sqlite) + (PG_APPEND[version] ?? '');
  // Rowid aliases become identity columns (ids are handed out the same way: ever higher).
  sql = sql.replace(/\bINTEGER PRIMARY KEY( AUTOINCREMENT)?/g, 'BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY');
  sql = sql.replace(/\bINTEGER\b/g, 'BIGINT').replace(/\bREAL\b/g, 'DOUBLE PRECISION').replace(/\bBLOB\b/g, 'BYTEA');
  for (const word of RESERVED) sql = sql.replace(new RegExp(`^(\\s*)${word}(\\s+TEXT)`, 'gm'), `$1"${word}"$2`);
  // Statement by statement (no migration has a `;` inside a string): rowid-less tables lose the
  // clause; the time-series ones are partitioned by range of `time` instead.
  return sql
    .split(';')
    .map((stmt) => {
      if (!/\)\s*WITHOUT ROWID\s*$/.test(stmt)) return stmt;
      const name = /CREATE TABLE (\w+)/.exec(stmt)?.[1] ?? '';
      // Created partitioned: the tables of migrations up to 13; later ones are converted by their own migration.
      const partitioned = (PARTITIONED_AT_13 as readonly string[]).includes(name);
      return stmt.replace(/\)\s*WITHOUT ROWID\s*$/, partitioned ? ') PARTITION BY RANGE (time)' : ')');
    })
    .join(';');
}
