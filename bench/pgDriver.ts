/**
 * bench:pg-driver — which PostgreSQL driver the store uses, measured: node-postgres (`pg`) and
 * postgres.js (`postgres`) on a real PostgreSQL 15 (test/harness/postgres.ts), the same work:
 *
 * 1. ingest: BENCH_ROUNDS rounds of BENCH_NODES nodes × 4 rows into a `cpu`-shaped table, one
 *    transaction per round — pg with one `INSERT … SELECT FROM unnest($1::…[])` per round (what
 *    pgStore.ts does), postgres.js with its multi-row `INSERT … ${sql(rows)}` helper, and
 *    `COPY … FROM STDIN` (through postgres.js, which streams it);
 * 2. point reads: BENCH_READS `SELECT … WHERE node_id = $1 ORDER BY time DESC LIMIT 1`.
 *
 * Medians of BENCH_RUNS; the anchor is pg's figure (ratio = postgres.js / pg, above 1 = faster).
 *
 *   npm run bench:pg-driver
 */
import pg from 'pg';
import postgres from 'postgres';
import { startPostgres } from '../test/harness/postgres.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const NODES = Number(process.env.BENCH_NODES ?? 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const READS = Number(process.env.BENCH_READS ?? 2000);
const PER_NODE = 4;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const DDL = `CREATE TABLE IF NOT EXISTS t (node_id BIGINT NOT NULL, time BIGINT NOT NULL, cpu TEXT NOT NULL, usage DOUBLE PRECISION NOT NULL, PRIMARY KEY (node_id, time, cpu))`;

const server = await startPostgres();
try {
  const url = server.url;
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const sql = postgres(url, { max: 4, onnotice: () => {} });
  await pool.query(DDL);
  const rowsOf = (r: number) => {
    const rows: { node_id: number; time: number; cpu: string; usage: number }[] = [];
    for (let n = 0; n < NODES; n++) for (let c = 0; c < PER_NODE; c++) rows.push({ node_id: n, time: r * 10, cpu: `cpu${c}`, usage: Math.random() * 100 });
    return rows;
  };

  const ingestPg = async () => {
    await pool.query('TRUNCATE t');
    const t0 = performance.now();
    for (let r = 0; r < ROUNDS; r++) {
      const rows = rowsOf(r);
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await c.query('INSERT INTO t (node_id, time, cpu, usage) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::float8[])', [
          rows.map((x) => x.node_id), rows.map((x) => x.time), rows.map((x) => x.cpu), rows.map((x) => x.usage),
        ]);
        await c.query('COMMIT');
      } finally {
        c.release();
      }
    }
    return (ROUNDS * NODES * PER_NODE) / ((performance.now() - t0) / 1000);
  };
  const ingestPostgresJs = async () => {
    await sql`TRUNCATE t`;
    const t0 = performance.now();
    for (let r = 0; r < ROUNDS; r++) {
      const rows = rowsOf(r);
      await sql.begin(async (tx) => {
        // The helper's multi-row VALUES, chunked under the 65,535-parameter limit.
        for (let i = 0; i < rows.length; i += 10_000) await tx`INSERT INTO t ${sql(rows.slice(i, i + 10_000), 'node_id', 'time', 'cpu', 'usage')}`;
      });
    }
    return (ROUNDS * NODES * PER_NODE) / ((performance.now() - t0) / 1000);
  };
  // COPY … FROM STDIN (postgres.js streams it; pg needs pg-copy-streams): the bulk-load path.
  const ingestCopy = async () => {
    await sql`TRUNCATE t`;
    const t0 = performance.now();
    for (let r = 0; r < ROUNDS; r++) {
      const rows = rowsOf(r);
      await sql.begin(async (tx) => {
        const w = await tx`COPY t (node_id, time, cpu, usage) FROM STDIN`.writable();
        await new Promise<void>((resolve, reject) => {
          w.on('error', reject);
          w.on('finish', resolve);
          w.end(rows.map((x) => `${x.node_id}\t${x.time}\t${x.cpu}\t${x.usage}\n`).join(''));
        });
      });
    }
    return (ROUNDS * NODES * PER_NODE) / ((performance.now() - t0) / 1000);
  };
  const readsPg = async () => {
    const t0 = performance.now();
    for (let i = 0; i < READS; i++) await pool.query('SELECT usage FROM t WHERE node_id = $1 ORDER BY time DESC LIMIT 1', [i % NODES]);
    return READS / ((performance.now() - t0) / 1000);
  };
  const readsPostgresJs = async () => {
    const t0 = performance.now();
    for (let i = 0; i < READS; i++) await sql`SELECT usage FROM t WHERE node_id = ${i % NODES} ORDER BY time DESC LIMIT 1`;
    return READS / ((performance.now() - t0) / 1000);
  };

  const res = { pgIngest: [] as number[], jsIngest: [] as number[], copyIngest: [] as number[], pgReads: [] as number[], jsReads: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    res.pgIngest.push(await ingestPg());
    res.jsIngest.push(await ingestPostgresJs());
    res.copyIngest.push(await ingestCopy());
    res.pgReads.push(await readsPg());
    res.jsReads.push(await readsPostgresJs());
  }
  const m = Object.fromEntries(Object.entries(res).map(([k, v]) => [k, median(v)])) as Record<keyof typeof res, number>;
  console.log(`ingest, rows/s:      pg unnest ${m.pgIngest.toFixed(0)}  postgres.js VALUES ${m.jsIngest.toFixed(0)} (ratio ${(m.jsIngest / m.pgIngest).toFixed(2)})  COPY ${m.copyIngest.toFixed(0)} (ratio ${(m.copyIngest / m.pgIngest).toFixed(2)})`);
  console.log(`point reads, per s:  pg ${m.pgReads.toFixed(0)}  postgres.js ${m.jsReads.toFixed(0)}  ratio ${(m.jsReads / m.pgReads).toFixed(2)}`);
  console.log(`bench:pg-driver pg_rows_per_s=${m.pgIngest.toFixed(0)} postgresjs_rows_per_s=${m.jsIngest.toFixed(0)} copy_rows_per_s=${m.copyIngest.toFixed(0)} pg_reads_per_s=${m.pgReads.toFixed(0)} postgresjs_reads_per_s=${m.jsReads.toFixed(0)}`);
  await pool.end();
  await sql.end();
} finally {
  await server.close();
}
