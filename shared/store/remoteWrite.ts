import type { Db } from './db.js';

/**
 * The durable remote-write queue (migrations 10 and 15): rows ready to send, in order, and per
 * endpoint how far it got and the batch it is sending. Everything here is one statement or one
 * transaction, so a crash anywhere leaves each request of a batch queued, answered, or sent
 * without an answer (in doubt), never half of one.
 */

/**
 * One row, as queued: format 2, a round's chunk of series as columns (shared/prometheus/backlog.ts);
 * format 1, a snappy-compressed WriteRequest (rows queued before migration 15), sent as it is.
 */
export interface QueuedRequest {
  id: number;
  createdUnixMs: number;
  samples: number;
  series: number;
  format: 1 | 2;
  /** The id of the first row of its round (format 2): rows of one round hold each series once. */
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

/**
 * Queue one round's `requests` for `endpoints` (call inside the round's transaction): the rows
 * of one call are one round, holding each series at most once. An endpoint seen for
 * the first time starts from these requests; endpoints no longer configured are forgotten.
 * Then the bound: while the queue holds more than `maxSamples` samples, its oldest request is
 * deleted and counted as dropped for every endpoint that had not sent it.
 */
export function enqueueRemoteWrite(db: Db, requests: readonly Omit<QueuedRequest, 'id' | 'format' | 'round'>[], endpoints: readonly string[], maxSamples: number): EnqueueResult {
  const firstNew = ((db.prepare('SELECT MAX(id) AS id FROM remote_write_queue').get() as { id: number | null }).id ?? 0);
  const known = new Set((db.prepare('SELECT endpoint FROM remote_write_endpoints').all() as { endpoint: string }[]).map((r) => r.endpoint));
  const add = db.prepare('INSERT INTO remote_write_endpoints (endpoint, acked_id) VALUES (?, ?)');
  for (const e of endpoints) if (!known.has(e)) add.run(e, firstNew);
  const forget = db.prepare('DELETE FROM remote_write_endpoints WHERE endpoint = ?');
  for (const e of known) if (!endpoints.includes(e)) forget.run(e);
  const insert = db.prepare('INSERT INTO remote_write_queue (created_unix_ms, samples, series, format, round, payload) VALUES (?, ?, ?, 2, ?, ?)');
  let round: number | bigint | null = null;
  for (const r of requests) {
    const id: number | bigint = insert.run(r.createdUnixMs, r.samples, r.series, round, r.payload).lastInsertRowid;
    if (round === null) db.prepare('UPDATE remote_write_queue SET round = id WHERE id = ?').run((round = id));
  }

  const result: EnqueueResult = { queued: requests.length, droppedRequests: 0, droppedSamples: 0, droppedFor: [], queuedSamples: 0 };
  let total = (db.prepare('SELECT COALESCE(SUM(samples), 0) AS n FROM remote_write_queue').get() as { n: number }).n;
  if (total > maxSamples) {
    // An endpoint whose batch holds a dropped row gives up the whole batch: what it has not
    // answered is dropped with it (its split needs all its rows).
    const states = (db.prepare('SELECT endpoint, acked_id AS ackedId, batch_json AS batchJson FROM remote_write_endpoints').all() as { endpoint: string; ackedId: number; batchJson: string | null }[]).map((r) => ({
      endpoint: r.endpoint,
      ackedId: r.ackedId,
      batch: r.batchJson === null ? undefined : parseBatch(r.batchJson),
      dropped: 0,
    }));
    const oldest = db.prepare('SELECT id, samples FROM remote_write_queue ORDER BY id LIMIT 256').raw(true);
    const del = db.prepare('DELETE FROM remote_write_queue WHERE id = ?');
    const droppedFor = new Set<string>();
    outer: for (;;) {
      const rows = oldest.all() as [number, number][];
      if (rows.length === 0) break;
      for (const [id, samples] of rows) {
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
        del.run(id);
        total -= samples;
        result.droppedRequests++;
        result.droppedSamples += samples;
      }
    }
    const update = db.prepare('UPDATE remote_write_endpoints SET dropped_samples = dropped_samples + ?, acked_id = ?, batch_json = ? WHERE endpoint = ?');
    for (const e of states) if (droppedFor.has(e.endpoint)) update.run(e.dropped, e.ackedId, e.batch ? JSON.stringify(serialBatch(e.batch)) : null, e.endpoint);
    result.droppedFor = [...droppedFor];
  }
  pruneAcked(db);
  result.queuedSamples = (db.prepare('SELECT COALESCE(SUM(samples), 0) AS n FROM remote_write_queue').get() as { n: number }).n;
  return result;
}

/** Delete the requests every endpoint has passed. */
function pruneAcked(db: Db): void {
  db.prepare('DELETE FROM remote_write_queue WHERE id <= (SELECT COALESCE(MIN(acked_id), (SELECT MAX(id) FROM remote_write_queue)) FROM remote_write_endpoints)').run();
}

const ROW_COLUMNS = 'id, created_unix_ms AS createdUnixMs, samples, series, format, round, payload';

/**
 * The rows of `endpoint`'s next batch, oldest first: a format-1 row alone (it is sent as it is),
 * else the format-2 rows that follow, while they hold at most `maxSamples` samples (at least
 * one row) and number at most `maxRows` (each row holds a series once, so no series of the
 * batch has more than `maxRows` samples).
 */
export function nextBatchRows(db: Db, endpoint: string, o: { maxSamples: number; maxRows: number }): QueuedRequest[] {
  const rows = db.prepare(`SELECT ${ROW_COLUMNS} FROM remote_write_queue WHERE id > (SELECT acked_id FROM remote_write_endpoints WHERE endpoint = ?) ORDER BY id`).iterate(endpoint) as IterableIterator<QueuedRequest>;
  const out: QueuedRequest[] = [];
  let samples = 0;
  for (const r of rows) {
    if (out.length > 0 && (r.format !== 2 || out[0]!.format !== 2 || samples + r.samples > o.maxSamples || out.length >= o.maxRows)) break;
    out.push(r);
    samples += r.samples;
  }
  return out;
}

/** Rows `first` to `last`: an open batch's, to rebuild its requests. */
export function batchRows(db: Db, first: number, last: number): QueuedRequest[] {
  return db.prepare(`SELECT ${ROW_COLUMNS} FROM remote_write_queue WHERE id BETWEEN ? AND ? ORDER BY id`).all(first, last) as QueuedRequest[];
}

type SerialBatch = Omit<RemoteWriteBatch, 'states'> & { states: string };
const serialBatch = (b: RemoteWriteBatch): SerialBatch => ({ ...b, states: b.states.join('') });
function parseBatch(json: string): RemoteWriteBatch {
  const b = JSON.parse(json) as SerialBatch;
  return { ...b, states: [...b.states] as RequestState[] };
}

/** The batch `endpoint` is sending, if one is open. */
export function openRemoteWriteBatch(db: Db, endpoint: string): RemoteWriteBatch | undefined {
  const r = db.prepare('SELECT batch_json AS j FROM remote_write_endpoints WHERE endpoint = ?').get(endpoint) as { j: string | null } | undefined;
  return r?.j ? parseBatch(r.j) : undefined;
}

/**
 * Open `batch` for `endpoint` (its requests all `q`), and count the samples its merge left out
 * (a series' second sample at one time) as dropped. A batch with no request is done at once.
 */
export function beginRemoteWriteBatch(db: Db, endpoint: string, batch: RemoteWriteBatch, duplicates: number): void {
  db.transaction(() => {
    db.prepare('UPDATE remote_write_endpoints SET dropped_samples = dropped_samples + ? WHERE endpoint = ?').run(duplicates, endpoint);
    if (batch.samples.length === 0) {
      db.prepare('UPDATE remote_write_endpoints SET acked_id = MAX(acked_id, ?), batch_json = NULL WHERE endpoint = ?').run(batch.last, endpoint);
      pruneAcked(db);
    } else db.prepare('UPDATE remote_write_endpoints SET batch_json = ? WHERE endpoint = ?').run(JSON.stringify(serialBatch(batch)), endpoint);
  }).immediate();
}

export type RequestOutcome = { state: 'q' | 's'; nowMs: number } | { state: 'a'; nowMs: number } | { state: 'd'; nowMs: number; error: string };

/**
 * Request `i` of `batch` is now in `outcome.state` (`batch.states` is updated too): accepted
 * or dropped requests are counted, and the batch's last answer acknowledges its rows. False
 * when the batch is no longer open for the endpoint (the queue bound dropped it): its answer
 * changes nothing then.
 */
export function setRequestState(db: Db, endpoint: string, batch: RemoteWriteBatch, i: number, outcome: RequestOutcome): boolean {
  return db.transaction(() => {
    const open = openRemoteWriteBatch(db, endpoint);
    if (!open || open.first !== batch.first || open.last !== batch.last) return false;
    batch.states[i] = outcome.state;
    const samples = batch.samples[i]!;
    if (outcome.state === 'a') {
      db.prepare(
        `UPDATE remote_write_endpoints SET sent_samples = sent_samples + ?, sent_requests = sent_requests + 1,
           attempts = 0, retry_at_unix_ms = 0, last_success_unix_ms = ? WHERE endpoint = ?`,
      ).run(samples, outcome.nowMs, endpoint);
    } else if (outcome.state === 'd') {
      db.prepare(
        `UPDATE remote_write_endpoints SET dropped_samples = dropped_samples + ?, failed_requests = failed_requests + 1,
           attempts = 0, retry_at_unix_ms = 0, last_error = ?, last_error_unix_ms = ? WHERE endpoint = ?`,
      ).run(samples, outcome.error, outcome.nowMs, endpoint);
    }
    if (batch.states.every((s) => s === 'a' || s === 'd')) {
      db.prepare('UPDATE remote_write_endpoints SET acked_id = MAX(acked_id, ?), batch_json = NULL WHERE endpoint = ?').run(batch.last, endpoint);
      pruneAcked(db);
    } else db.prepare('UPDATE remote_write_endpoints SET batch_json = ? WHERE endpoint = ?').run(JSON.stringify(serialBatch(batch)), endpoint);
    return true;
  }).immediate();
}

/** A failure worth retrying: when to try again, and why. */
export function deferRemoteWrite(db: Db, endpoint: string, o: { attempts: number; retryAtUnixMs: number; error: string; nowMs: number }): void {
  db.prepare(
    `UPDATE remote_write_endpoints SET attempts = ?, retry_at_unix_ms = ?, failed_requests = failed_requests + 1, last_error = ?, last_error_unix_ms = ? WHERE endpoint = ?`,
  ).run(o.attempts, o.retryAtUnixMs, o.error, o.nowMs, endpoint);
}

/**
 * Take (or renew) the right to send for `endpoint` until `untilUnixMs`: one sender per endpoint
 * across processes (a hub, a CLI run beside it), so requests leave in queue order. False when
 * another owner holds an unexpired lease.
 */
export function leaseRemoteWrite(db: Db, endpoint: string, owner: string, nowMs: number, untilUnixMs: number): boolean {
  return (
    db
      .prepare('UPDATE remote_write_endpoints SET lease_owner = ?, lease_until_unix_ms = ? WHERE endpoint = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_until_unix_ms < ?)')
      .run(owner, untilUnixMs, endpoint, owner, nowMs).changes === 1
  );
}

export function releaseRemoteWrite(db: Db, endpoint: string, owner: string): void {
  db.prepare('UPDATE remote_write_endpoints SET lease_owner = NULL, lease_until_unix_ms = 0 WHERE endpoint = ? AND lease_owner = ?').run(endpoint, owner);
}

export function remoteWriteStates(db: Db): EndpointState[] {
  const rows = db
    .prepare(
      `SELECT e.endpoint, e.acked_id AS ackedId, e.sent_samples AS sentSamples, e.sent_requests AS sentRequests, e.dropped_samples AS droppedSamples,
         e.failed_requests AS failedRequests, e.attempts, e.retry_at_unix_ms AS retryAtUnixMs, e.last_error AS lastError, e.last_error_unix_ms AS lastErrorUnixMs,
         e.last_success_unix_ms AS lastSuccessUnixMs, e.batch_json AS batchJson,
         (SELECT COALESCE(SUM(samples), 0) FROM remote_write_queue WHERE id > e.acked_id) AS queuedSamples,
         (SELECT COUNT(*) FROM remote_write_queue WHERE id > e.acked_id) AS queuedRequests,
         (SELECT MIN(created_unix_ms) FROM remote_write_queue WHERE id > e.acked_id) AS oldestQueuedUnixMs
       FROM remote_write_endpoints e ORDER BY e.endpoint`,
    )
    .all() as (EndpointState & { batchJson?: string | null })[];
  // An open batch's answered requests are no longer queued.
  return rows.map(({ batchJson, ...e }) => {
    const b = batchJson ? parseBatch(batchJson) : undefined;
    const answered = b ? b.samples.reduce((n, x, i) => (b.states[i] === 'a' || b.states[i] === 'd' ? n + x : n), 0) : 0;
    return { ...e, queuedSamples: e.queuedSamples - answered };
  });
}
