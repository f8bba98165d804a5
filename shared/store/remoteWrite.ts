import type { Db } from './db.js';

/**
 * The durable remote-write queue (migration 10): requests ready to send, in order, and per
 * endpoint how far it got. Everything here is one statement or one transaction, so a crash
 * anywhere leaves a request either still queued for an endpoint or acknowledged by it.
 */

/** One request, as queued: a snappy-compressed WriteRequest. */
export interface QueuedRequest {
  id: number;
  createdUnixMs: number;
  samples: number;
  series: number;
  payload: Buffer;
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
 * Queue `requests` for `endpoints` (call inside the round's transaction). An endpoint seen for
 * the first time starts from these requests; endpoints no longer configured are forgotten.
 * Then the bound: while the queue holds more than `maxSamples` samples, its oldest request is
 * deleted and counted as dropped for every endpoint that had not sent it.
 */
export function enqueueRemoteWrite(db: Db, requests: readonly Omit<QueuedRequest, 'id'>[], endpoints: readonly string[], maxSamples: number): EnqueueResult {
  const firstNew = ((db.prepare('SELECT MAX(id) AS id FROM remote_write_queue').get() as { id: number | null }).id ?? 0);
  const known = new Set((db.prepare('SELECT endpoint FROM remote_write_endpoints').all() as { endpoint: string }[]).map((r) => r.endpoint));
  const add = db.prepare('INSERT INTO remote_write_endpoints (endpoint, acked_id) VALUES (?, ?)');
  for (const e of endpoints) if (!known.has(e)) add.run(e, firstNew);
  const forget = db.prepare('DELETE FROM remote_write_endpoints WHERE endpoint = ?');
  for (const e of known) if (!endpoints.includes(e)) forget.run(e);
  const insert = db.prepare('INSERT INTO remote_write_queue (created_unix_ms, samples, series, payload) VALUES (?, ?, ?, ?)');
  for (const r of requests) insert.run(r.createdUnixMs, r.samples, r.series, r.payload);

  const result: EnqueueResult = { queued: requests.length, droppedRequests: 0, droppedSamples: 0, droppedFor: [], queuedSamples: 0 };
  let total = (db.prepare('SELECT COALESCE(SUM(samples), 0) AS n FROM remote_write_queue').get() as { n: number }).n;
  if (total > maxSamples) {
    const oldest = db.prepare('SELECT id, samples FROM remote_write_queue ORDER BY id LIMIT 256').raw(true);
    const drop = db.prepare('UPDATE remote_write_endpoints SET dropped_samples = dropped_samples + ?, acked_id = ? WHERE acked_id < ?');
    const del = db.prepare('DELETE FROM remote_write_queue WHERE id = ?');
    const behind = db.prepare('SELECT endpoint FROM remote_write_endpoints WHERE acked_id < ?').pluck();
    const droppedFor = new Set<string>();
    outer: for (;;) {
      const rows = oldest.all() as [number, number][];
      if (rows.length === 0) break;
      for (const [id, samples] of rows) {
        if (total <= maxSamples) break outer;
        for (const e of behind.all(id) as string[]) droppedFor.add(e);
        drop.run(samples, id, id);
        del.run(id);
        total -= samples;
        result.droppedRequests++;
        result.droppedSamples += samples;
      }
    }
    result.droppedFor = [...droppedFor];
  }
  pruneAcked(db);
  result.queuedSamples = total;
  return result;
}

/** Delete the requests every endpoint has passed. */
function pruneAcked(db: Db): void {
  db.prepare('DELETE FROM remote_write_queue WHERE id <= (SELECT COALESCE(MIN(acked_id), (SELECT MAX(id) FROM remote_write_queue)) FROM remote_write_endpoints)').run();
}

/** The next request `endpoint` has not sent, oldest first. */
export function nextRemoteWrite(db: Db, endpoint: string): QueuedRequest | undefined {
  const r = db
    .prepare(
      `SELECT q.id, q.created_unix_ms AS createdUnixMs, q.samples, q.series, q.payload FROM remote_write_queue q
       WHERE q.id > (SELECT acked_id FROM remote_write_endpoints WHERE endpoint = ?) ORDER BY q.id LIMIT 1`,
    )
    .get(endpoint) as QueuedRequest | undefined;
  return r;
}

/** `endpoint` is done with request `id`: sent (2xx) or dropped (a 4xx it will never accept). */
export function ackRemoteWrite(db: Db, endpoint: string, id: number, samples: number, outcome: { sent: true; nowMs: number } | { sent: false; nowMs: number; error: string }): void {
  db.transaction(() => {
    if (outcome.sent) {
      db.prepare(
        `UPDATE remote_write_endpoints SET acked_id = MAX(acked_id, ?), sent_samples = sent_samples + ?, sent_requests = sent_requests + 1,
           attempts = 0, retry_at_unix_ms = 0, last_success_unix_ms = ? WHERE endpoint = ?`,
      ).run(id, samples, outcome.nowMs, endpoint);
    } else {
      db.prepare(
        `UPDATE remote_write_endpoints SET acked_id = MAX(acked_id, ?), dropped_samples = dropped_samples + ?, failed_requests = failed_requests + 1,
           attempts = 0, retry_at_unix_ms = 0, last_error = ?, last_error_unix_ms = ? WHERE endpoint = ?`,
      ).run(id, samples, outcome.error, outcome.nowMs, endpoint);
    }
    pruneAcked(db);
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
  return db
    .prepare(
      `SELECT e.endpoint, e.acked_id AS ackedId, e.sent_samples AS sentSamples, e.sent_requests AS sentRequests, e.dropped_samples AS droppedSamples,
         e.failed_requests AS failedRequests, e.attempts, e.retry_at_unix_ms AS retryAtUnixMs, e.last_error AS lastError, e.last_error_unix_ms AS lastErrorUnixMs,
         e.last_success_unix_ms AS lastSuccessUnixMs,
         (SELECT COALESCE(SUM(samples), 0) FROM remote_write_queue WHERE id > e.acked_id) AS queuedSamples,
         (SELECT COUNT(*) FROM remote_write_queue WHERE id > e.acked_id) AS queuedRequests,
         (SELECT MIN(created_unix_ms) FROM remote_write_queue WHERE id > e.acked_id) AS oldestQueuedUnixMs
       FROM remote_write_endpoints e ORDER BY e.endpoint`,
    )
    .all() as EndpointState[];
}
