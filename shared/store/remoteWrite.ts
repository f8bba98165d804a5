import { createHash } from 'node:crypto';
import { placeholders, type SqlDb } from './sql.js';
import { asSql, type SqlOrDb } from './sqliteSql.js';

/**
 * The durable remote-write queue (migrations 10, 15 and 18), on either store through the SQL
 * port (sql.ts): rows ready to send, in order; per endpoint how far it got and the batch it is
 * sending; and each series' labels, once (remote_write_series), so that a row holds series ids,
 * not label text. Everything here is one statement or one transaction, so a crash anywhere
 * leaves each request of a batch queued, answered, or sent without an answer (in doubt), never
 * half of one.
 *
 * Many hubs on one PostgreSQL: every transaction that writes the queue's bookkeeping first takes
 * one advisory lock (lockQueue), so rows get their ids in commit order (a sender that has passed
 * id n never sees a row below n commit later) and a hub's enqueue never overwrites another's
 * batch state; one hub sends for an endpoint at a time (its lease, leaseRemoteWrite), and a
 * request's state changes only for the lease holder. On SQLite BEGIN IMMEDIATE does the same.
 */

/**
 * One row, as queued: format 3, a round's chunk of samples as series ids and columns
 * (shared/prometheus/backlog.ts); format 2, the same with each series' labels in the row (rows
 * queued before migration 18); format 1, a snappy-compressed WriteRequest (rows queued before
 * migration 15), sent as it is. A batch holds rows of one format.
 */
export interface QueuedRequest {
  id: number;
  createdUnixMs: number;
  samples: number;
  series: number;
  format: 1 | 2 | 3;
  /** The id of the first row of its round (formats 2 and 3): rows of one round hold each series once. */
  round: number | null;
  payload: Buffer;
}

/**
 * A request's state in its batch: `q` not sent (or refused with a 5xx/429: nothing was taken),
 * `s` sent without an answer yet (in flight, or in doubt: the process died, the request timed
 * out or the connection broke, so the endpoint may have taken it), `a` accepted, `d` dropped
 * (a 4xx it will never accept).
 */
export type RequestState = 'q' | 's' | 'a' | 'd';

/**
 * The batch an endpoint is sending: rows `first` to `last`, split into requests of at most
 * `perSend` samples (the split is rebuilt from the rows the same way after a restart, so
 * request i is the same request), `samples` and `states` per request.
 */
export interface RemoteWriteBatch {
  first: number;
  last: number;
  perSend: number;
  samples: number[];
  states: RequestState[];
}

export interface EndpointState {
  endpoint: string;
  ackedId: number;
  sentSamples: number;
  sentRequests: number;
  droppedSamples: number;
  failedRequests: number;
  attempts: number;
  retryAtUnixMs: number;
  lastError: string | null;
  lastErrorUnixMs: number | null;
  lastSuccessUnixMs: number | null;
  /** Samples and requests queued for it (past acked_id). */
  queuedSamples: number;
  queuedRequests: number;
  oldestQueuedUnixMs: number | null;
}

export interface EnqueueResult {
  /** Requests queued by this call. */
  queued: number;
  /** Oldest requests deleted to keep the queue within its bound, and their samples. */
  droppedRequests: number;
  droppedSamples: number;
  /** Endpoints whose queue lost samples that way. */
  droppedFor: string[];
  queuedSamples: number;
}

/** pg_advisory_xact_lock's key for the queue (pg.ts ADVISORY's range). */
const QUEUE_LOCK = 720_020_019;

/** Serialize the queue's writers for the rest of the transaction (PostgreSQL; SQLite's BEGIN IMMEDIATE already does). */
async function lockQueue(sql: SqlDb): Promise<void> {
  if (sql.dialect === 'postgres') await sql.run('SELECT pg_advisory_xact_lock(CAST(? AS BIGINT))', [QUEUE_LOCK]);
}

/**
 * A series as remote write sees it: its labels as encodeLabels gave them, and its id in the
 * series table of one store (`owner`, the SQL port it was found in), once known.
 */
export interface SeriesRef {
  labels: Uint8Array;
  id?: number;
  owner?: SqlDb;
}

/** Each store's series labels by id, as this process has seen them. Bounded: past this many it starts afresh. */
const labelsById = new WeakMap<SqlDb, Map<number, Uint8Array>>();
const LABELS_BY_ID_MAX = 2_000_000;
function knownLabels(sql: SqlDb): Map<number, Uint8Array> {
  let m = labelsById.get(sql);
  if (!m || m.size > LABELS_BY_ID_MAX) labelsById.set(sql, (m = new Map()));
  return m;
}

/** Series per statement: at most twice as many parameters (SQLite allows 32,766, PostgreSQL 65,535). */
const CHUNK = 2000;
const sha1 = (b: Uint8Array) => createHash('sha1').update(b).digest();

/**
 * Give every ref without an id in this store its id: looked up by the SHA-1 of its labels,
 * inserted when the store has none (ON CONFLICT: another hub may insert it meanwhile). Runs in
 * its own transaction (or the caller's). `cache: false` leaves the refs as they were and returns
 * the ids: for use inside a transaction that may yet roll back (an id remembered from it could
 * name a row that was never committed).
 */
export async function resolveSeries(db: SqlOrDb, refs: readonly SeriesRef[], o: { cache?: boolean } = {}): Promise<Uint32Array> {
  const sql = asSql(db);
  const cache = o.cache ?? true;
  const out = new Uint32Array(refs.length);
  /** By the labels' bytes as latin1 text: each distinct series once, and where it is in `refs`. */
  const missing = new Map<string, { ref: SeriesRef; at: number[]; id?: number }>();
  for (let i = 0; i < refs.length; i++) {
    const r = refs[i]!;
    if (r.owner === sql && r.id !== undefined) out[i] = r.id;
    else {
      const k = latin1(r.labels);
      const m = missing.get(k);
      if (m) m.at.push(i);
      else missing.set(k, { ref: r, at: [i] });
    }
  }
  if (missing.size === 0) return out;
  await sql.tx(async (s) => {
    // Many series this process does not know (a restarted hub's first round) and a table not much
    // bigger: one scan of the table, matched by the labels themselves (no hash, no lookup per series).
    let scanned = false;
    if (missing.size >= 1000) {
      const { n } = (await s.get<{ n: number }>('SELECT COUNT(*) AS n FROM remote_write_series'))!;
      if (n <= 4 * missing.size) {
        scanned = true;
        for (const r of await s.all<{ id: number; labels: Buffer }>('SELECT id, labels FROM remote_write_series ORDER BY id LIMIT ?', [n])) {
          const m = missing.get(latin1(r.labels));
          if (m) m.id = r.id;
        }
      }
    }
    const rest = [...missing.values()].filter((m) => m.id === undefined).map((m) => ({ m, key: sha1(m.ref.labels) }));
    for (let c = 0; c < rest.length; c += CHUNK) {
      const chunk = rest.slice(c, c + CHUNK);
      const byKey = new Map(chunk.map((x) => [latin1(x.key), x.m]));
      const find = async (of: typeof chunk) => {
        for (const r of await s.all<{ id: number; k: Buffer }>(`SELECT id, labels_sha1 AS k FROM remote_write_series WHERE labels_sha1 IN (${placeholders(of.length)})`, of.map((x) => x.key))) byKey.get(latin1(r.k))!.id = r.id;
      };
      if (!scanned) await find(chunk);
      const fresh = chunk.filter((x) => x.m.id === undefined);
      if (fresh.length === 0) continue;
      const added = await s.all<{ id: number; k: Buffer }>(
        `INSERT INTO remote_write_series (labels_sha1, labels) VALUES ${fresh.map(() => '(?, ?)').join(', ')} ON CONFLICT (labels_sha1) DO NOTHING RETURNING id, labels_sha1 AS k`,
        fresh.flatMap((x) => [x.key, Buffer.from(x.m.ref.labels)]),
      );
      for (const r of added) byKey.get(latin1(r.k))!.id = r.id;
      // Inserted meanwhile by another hub (ON CONFLICT returns nothing for those): read them.
      const raced = fresh.filter((x) => x.m.id === undefined);
      if (raced.length) await find(raced);
    }
  });
  const known = knownLabels(sql);
  for (const m of missing.values()) {
    const id = m.id;
    if (id === undefined || id >= 2 ** 32) throw new Error(`remote write: series id ${id} missing or past 2^32`);
    for (const i of m.at) out[i] = id;
    if (cache) {
      m.ref.id = id;
      m.ref.owner = sql;
      known.set(id, m.ref.labels);
    }
  }
  return out;
}

const latin1 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

/** The labels of series `ids` (distinct), from this process's memory or the store; an id the store lacks is an error. */
export async function seriesLabels(db: SqlOrDb, ids: ArrayLike<number>): Promise<Uint8Array[]> {
  const sql = asSql(db);
  const known = knownLabels(sql);
  const want: number[] = [];
  for (let i = 0; i < ids.length; i++) if (!known.has(ids[i]!)) want.push(ids[i]!);
  for (let c = 0; c < want.length; c += CHUNK) {
    const chunk = want.slice(c, c + CHUNK);
    for (const r of await sql.all<{ id: number; labels: Buffer }>(`SELECT id, labels FROM remote_write_series WHERE id IN (${placeholders(chunk.length)})`, chunk)) known.set(r.id, new Uint8Array(r.labels));
  }
  return Array.from(ids, (id) => {
    const l = known.get(id);
    if (!l) throw new Error(`remote write queue: series ${id} is not in remote_write_series`);
    return l;
  });
}

/**
 * Queue one round's `requests` for `endpoints` (call inside the round's transaction): the rows
 * of one call are one round, holding each series at most once. An endpoint seen for
 * the first time starts from these requests; endpoints no longer configured are forgotten.
 * Then the bound: while the queue holds more than `maxSamples` samples, its oldest request is
 * deleted and counted as dropped for every endpoint that had not sent it.
 */
export async function enqueueRemoteWrite(
  db: SqlOrDb,
  requests: readonly (Omit<QueuedRequest, 'id' | 'format' | 'round'> & { format?: 2 | 3 })[],
  endpoints: readonly string[],
  maxSamples: number,
): Promise<EnqueueResult> {
  return asSql(db).tx(async (sql) => {
    await lockQueue(sql);
    const firstNew = (await sql.get<{ id: number | null }>('SELECT MAX(id) AS id FROM remote_write_queue'))!.id ?? 0;
    const known = new Set((await sql.all<{ endpoint: string }>('SELECT endpoint FROM remote_write_endpoints')).map((r) => r.endpoint));
    for (const e of endpoints) if (!known.has(e)) await sql.run('INSERT INTO remote_write_endpoints (endpoint, acked_id) VALUES (?, ?)', [e, firstNew]);
    for (const e of known) if (!endpoints.includes(e)) await sql.run('DELETE FROM remote_write_endpoints WHERE endpoint = ?', [e]);
    let round: number | null = null;
    for (const r of requests) {
      const { id }: { id: number } = (await sql.get<{ id: number }>('INSERT INTO remote_write_queue (created_unix_ms, samples, series, format, round, payload) VALUES (?, ?, ?, ?, ?, ?) RETURNING id', [
        r.createdUnixMs, r.samples, r.series, r.format ?? 3, round, r.payload,
      ]))!;
      if (round === null) await sql.run('UPDATE remote_write_queue SET round = id WHERE id = ?', [(round = id)]);
    }

    const result: EnqueueResult = { queued: requests.length, droppedRequests: 0, droppedSamples: 0, droppedFor: [], queuedSamples: 0 };
    let total = (await sql.get<{ n: number }>('SELECT COALESCE(SUM(samples), 0) AS n FROM remote_write_queue'))!.n;
    if (total > maxSamples) {
      // An endpoint whose batch holds a dropped row gives up the whole batch: what it has not
      // answered is dropped with it (its split needs all its rows).
      const states = (await sql.all<{ endpoint: string; ackedId: number; batchJson: string | null }>('SELECT endpoint, acked_id AS "ackedId", batch_json AS "batchJson" FROM remote_write_endpoints')).map((r) => ({
        endpoint: r.endpoint,
        ackedId: r.ackedId,
        batch: r.batchJson === null ? undefined : parseBatch(r.batchJson),
        dropped: 0,
      }));
      const droppedFor = new Set<string>();
      outer: for (;;) {
        const rows = await sql.all<{ id: number; samples: number }>('SELECT id, samples FROM remote_write_queue ORDER BY id LIMIT 256');
        if (rows.length === 0) break;
        for (const { id, samples } of rows) {
          if (total <= maxSamples) break outer;
          for (const e of states) {
            if (e.ackedId >= id) continue;
            droppedFor.add(e.endpoint);
            if (e.batch && id >= e.batch.first) {
              e.dropped += e.batch.samples.reduce((n, x, i) => (e.batch!.states[i] === 'a' || e.batch!.states[i] === 'd' ? n : n + x), 0);
              e.ackedId = e.batch.last;
              e.batch = undefined;
            } else {
              e.dropped += samples;
              e.ackedId = id;
            }
          }
          await sql.run('DELETE FROM remote_write_queue WHERE id = ?', [id]);
          total -= samples;
          result.droppedRequests++;
          result.droppedSamples += samples;
        }
      }
      for (const e of states) {
        if (!droppedFor.has(e.endpoint)) continue;
        await sql.run('UPDATE remote_write_endpoints SET dropped_samples = dropped_samples + ?, acked_id = ?, batch_json = ? WHERE endpoint = ?', [
          e.dropped, e.ackedId, e.batch ? JSON.stringify(serialBatch(e.batch)) : null, e.endpoint,
        ]);
      }
      result.droppedFor = [...droppedFor];
    }
    await pruneAcked(sql);
    result.queuedSamples = (await sql.get<{ n: number }>('SELECT COALESCE(SUM(samples), 0) AS n FROM remote_write_queue'))!.n;
    return result;
  });
}

/** Delete the requests every endpoint has passed. */
async function pruneAcked(sql: SqlDb): Promise<void> {
  await sql.run('DELETE FROM remote_write_queue WHERE id <= (SELECT COALESCE(MIN(acked_id), (SELECT MAX(id) FROM remote_write_queue)) FROM remote_write_endpoints)');
}

const ROW_COLUMNS = 'id, created_unix_ms AS "createdUnixMs", samples, series, format, round, payload';

/**
 * The rows of `endpoint`'s next batch, oldest first: a format-1 row alone (it is sent as it is),
 * else the rows of the same format that follow, while they hold at most `maxSamples` samples (at
 * least one row) and number at most `maxRows` (each row holds a series once, so no series of the
 * batch has more than `maxRows` samples). Reads at most `maxRows` rows.
 */
export async function nextBatchRows(db: SqlOrDb, endpoint: string, o: { maxSamples: number; maxRows: number }): Promise<QueuedRequest[]> {
  const sql = asSql(db);
  const heads = await sql.all<{ id: number; samples: number; format: number }>(
    'SELECT id, samples, format FROM remote_write_queue WHERE id > (SELECT acked_id FROM remote_write_endpoints WHERE endpoint = ?) ORDER BY id LIMIT ?',
    [endpoint, Math.max(1, o.maxRows)],
  );
  let n = 0;
  let samples = 0;
  for (const r of heads) {
    if (n > 0 && (r.format === 1 || r.format !== heads[0]!.format || samples + r.samples > o.maxSamples)) break;
    n++;
    samples += r.samples;
    if (r.format === 1) break;
  }
  return n === 0 ? [] : batchRows(sql, heads[0]!.id, heads[n - 1]!.id);
}

/** Rows `first` to `last`: an open batch's, to rebuild its requests. */
export async function batchRows(db: SqlOrDb, first: number, last: number): Promise<QueuedRequest[]> {
  const rows = await asSql(db).all<QueuedRequest>(`SELECT ${ROW_COLUMNS} FROM remote_write_queue WHERE id BETWEEN ? AND ? ORDER BY id`, [first, last]);
  return rows.map((r) => ({ ...r, payload: Buffer.from(r.payload) }));
}

type SerialBatch = Omit<RemoteWriteBatch, 'states'> & { states: string };
const serialBatch = (b: RemoteWriteBatch): SerialBatch => ({ ...b, states: b.states.join('') });
function parseBatch(json: string): RemoteWriteBatch {
  const b = JSON.parse(json) as SerialBatch;
  return { ...b, states: [...b.states] as RequestState[] };
}

/** The batch `endpoint` is sending, if one is open. */
export async function openRemoteWriteBatch(db: SqlOrDb, endpoint: string): Promise<RemoteWriteBatch | undefined> {
  const r = await asSql(db).get<{ j: string | null }>('SELECT batch_json AS j FROM remote_write_endpoints WHERE endpoint = ?', [endpoint]);
  return r?.j ? parseBatch(r.j) : undefined;
}

/** acked_id moved up to `last` (never down), the batch closed, rows every endpoint passed deleted. */
async function ackThrough(sql: SqlDb, endpoint: string, last: number): Promise<void> {
  await sql.run('UPDATE remote_write_endpoints SET acked_id = CASE WHEN acked_id > ? THEN acked_id ELSE ? END, batch_json = NULL WHERE endpoint = ?', [last, last, endpoint]);
  await pruneAcked(sql);
}

/**
 * Open `batch` for `endpoint` (its requests all `q`), and count the samples its merge left out
 * (a series' second sample at one time) as dropped. A batch with no request is done at once.
 * False when `owner` no longer holds the endpoint's lease (another hub sends now).
 */
export async function beginRemoteWriteBatch(db: SqlOrDb, endpoint: string, owner: string, batch: RemoteWriteBatch, duplicates: number): Promise<boolean> {
  return asSql(db).tx(async (sql) => {
    await lockQueue(sql);
    if (!(await holdsLease(sql, endpoint, owner)) || (await openRemoteWriteBatch(sql, endpoint))) return false;
    await sql.run('UPDATE remote_write_endpoints SET dropped_samples = dropped_samples + ? WHERE endpoint = ?', [duplicates, endpoint]);
    if (batch.samples.length === 0) await ackThrough(sql, endpoint, batch.last);
    else await sql.run('UPDATE remote_write_endpoints SET batch_json = ? WHERE endpoint = ?', [JSON.stringify(serialBatch(batch)), endpoint]);
    return true;
  });
}

async function holdsLease(sql: SqlDb, endpoint: string, owner: string): Promise<boolean> {
  return (await sql.get<{ o: string | null }>('SELECT lease_owner AS o FROM remote_write_endpoints WHERE endpoint = ?', [endpoint]))?.o === owner;
}

export type RequestOutcome = { state: 'q' | 's'; nowMs: number } | { state: 'a'; nowMs: number } | { state: 'd'; nowMs: number; error: string };

/**
 * Request `i` of `batch` is now in `outcome.state` (`batch.states` is updated too): accepted
 * or dropped requests are counted, and the batch's last answer acknowledges its rows. False
 * when the batch is no longer open for the endpoint (the queue bound dropped it), or `owner`
 * no longer holds its lease: its answer changes nothing then.
 */
export async function setRequestState(db: SqlOrDb, endpoint: string, owner: string, batch: RemoteWriteBatch, i: number, outcome: RequestOutcome): Promise<boolean> {
  return asSql(db).tx(async (sql) => {
    await lockQueue(sql);
    const open = await openRemoteWriteBatch(sql, endpoint);
    if (!open || open.first !== batch.first || open.last !== batch.last || !(await holdsLease(sql, endpoint, owner))) return false;
    // The stored states are the truth (a batch object may be a copy of an older read).
    batch.states = open.states;
    batch.states[i] = outcome.state;
    const samples = batch.samples[i]!;
    if (outcome.state === 'a') {
      await sql.run(
        `UPDATE remote_write_endpoints SET sent_samples = sent_samples + ?, sent_requests = sent_requests + 1,
           attempts = 0, retry_at_unix_ms = 0, last_success_unix_ms = ? WHERE endpoint = ?`,
        [samples, outcome.nowMs, endpoint],
      );
    } else if (outcome.state === 'd') {
      await sql.run(
        `UPDATE remote_write_endpoints SET dropped_samples = dropped_samples + ?, failed_requests = failed_requests + 1,
           attempts = 0, retry_at_unix_ms = 0, last_error = ?, last_error_unix_ms = ? WHERE endpoint = ?`,
        [samples, outcome.error, outcome.nowMs, endpoint],
      );
    }
    if (batch.states.every((s) => s === 'a' || s === 'd')) await ackThrough(sql, endpoint, batch.last);
    else await sql.run('UPDATE remote_write_endpoints SET batch_json = ? WHERE endpoint = ?', [JSON.stringify(serialBatch(batch)), endpoint]);
    return true;
  });
}

/** A failure worth retrying: when to try again, and why. */
export async function deferRemoteWrite(db: SqlOrDb, endpoint: string, o: { attempts: number; retryAtUnixMs: number; error: string; nowMs: number }): Promise<void> {
  await asSql(db).run(
    `UPDATE remote_write_endpoints SET attempts = ?, retry_at_unix_ms = ?, failed_requests = failed_requests + 1, last_error = ?, last_error_unix_ms = ? WHERE endpoint = ?`,
    [o.attempts, o.retryAtUnixMs, o.error, o.nowMs, endpoint],
  );
}

/** The endpoint's backoff state; undefined when nothing was ever queued for it. */
export async function endpointRetry(db: SqlOrDb, endpoint: string): Promise<{ attempts: number; retryAt: number } | undefined> {
  return asSql(db).get('SELECT attempts, retry_at_unix_ms AS "retryAt" FROM remote_write_endpoints WHERE endpoint = ?', [endpoint]);
}

/**
 * Take (or renew) the right to send for `endpoint` until `untilUnixMs`: one sender per endpoint
 * across processes (a hub, a CLI run beside it, other hubs on one PostgreSQL), so requests leave
 * in queue order. False when another owner holds an unexpired lease. One conditional UPDATE:
 * PostgreSQL re-checks its condition on the row a concurrent UPDATE left, so two hubs never both win.
 */
export async function leaseRemoteWrite(db: SqlOrDb, endpoint: string, owner: string, nowMs: number, untilUnixMs: number): Promise<boolean> {
  const r = await asSql(db).run(
    'UPDATE remote_write_endpoints SET lease_owner = ?, lease_until_unix_ms = ? WHERE endpoint = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_until_unix_ms < ?)',
    [owner, untilUnixMs, endpoint, owner, nowMs],
  );
  return r.changes === 1;
}

export async function releaseRemoteWrite(db: SqlOrDb, endpoint: string, owner: string): Promise<void> {
  await asSql(db).run('UPDATE remote_write_endpoints SET lease_owner = NULL, lease_until_unix_ms = 0 WHERE endpoint = ? AND lease_owner = ?', [endpoint, owner]);
}

const STATES_SQL = `SELECT e.endpoint, e.acked_id AS "ackedId", e.sent_samples AS "sentSamples", e.sent_requests AS "sentRequests", e.dropped_samples AS "droppedSamples",
    e.failed_requests AS "failedRequests", e.attempts, e.retry_at_unix_ms AS "retryAtUnixMs", e.last_error AS "lastError", e.last_error_unix_ms AS "lastErrorUnixMs",
    e.last_success_unix_ms AS "lastSuccessUnixMs", e.batch_json AS "batchJson",
    (SELECT COALESCE(SUM(samples), 0) FROM remote_write_queue WHERE id > e.acked_id) AS "queuedSamples",
    (SELECT COUNT(*) FROM remote_write_queue WHERE id > e.acked_id) AS "queuedRequests",
    (SELECT MIN(created_unix_ms) FROM remote_write_queue WHERE id > e.acked_id) AS "oldestQueuedUnixMs"
  FROM remote_write_endpoints e ORDER BY e.endpoint`;

/** An open batch's answered requests are no longer queued. */
function statesOf(rows: (EndpointState & { batchJson?: string | null })[]): EndpointState[] {
  return rows.map(({ batchJson, ...e }) => {
    const b = batchJson ? parseBatch(batchJson) : undefined;
    const answered = b ? b.samples.reduce((n, x, i) => (b.states[i] === 'a' || b.states[i] === 'd' ? n + x : n), 0) : 0;
    return { ...e, queuedSamples: e.queuedSamples - answered };
  });
}

/** Each endpoint's counts and queue depth, on either store. */
export async function remoteWriteStatesOf(db: SqlOrDb): Promise<EndpointState[]> {
  return statesOf(await asSql(db).all(STATES_SQL));
}
