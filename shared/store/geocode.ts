import type { GeoPrecision, LocationSource } from '../domain/index.js';
import { asSql } from './anomalies.js';
import type { Db } from './db.js';
import type { SqlDb } from './sql.js';

/** A row of `geocode_cache`: one normalized address and what looking it up gave. */
export interface GeocodeEntry {
  /** The normalized address (the key). */
  address: string;
  /** The fallback query that matched. */
  query: string | null;
  latitude: number | null;
  longitude: number | null;
  displayName: string | null;
  precision: GeoPrecision | null;
  /** node-geocoder's provider name (`openstreetmap`) and the server's origin. */
  provider: string | null;
  server: string | null;
  /** When the stored location was found. */
  lookedUpUnixSeconds: number | null;
  /** `ok`: located; `pending`: no answer yet (not looked up, or the server was unreachable); `failed`: answered, but no match or a rejected answer. */
  status: 'ok' | 'pending' | 'failed';
  error: string | null;
  /** Failed lookups since the last success. */
  attempts: number;
  lastAttemptUnixSeconds: number | null;
  /** Not looked up again before this (unless refreshed). */
  nextRetryUnixSeconds: number | null;
}

/*
 * The geocode cache, the nodes' location fields and the geocoder servers' slots and outages, on
 * the store's SQL port (sql.ts): the same statements on SQLite and PostgreSQL. Each function
 * takes the port (`store.sql`) or a SQLite database.
 */

export async function getGeocodeEntry(db: Db | SqlDb, address: string): Promise<GeocodeEntry | undefined> {
  const r = await asSql(db).get('SELECT * FROM geocode_cache WHERE address = ?', [address]);
  return r && toEntry(r);
}

export async function listGeocodeEntries(db: Db | SqlDb): Promise<GeocodeEntry[]> {
  return (await asSql(db).all('SELECT * FROM geocode_cache ORDER BY address')).map(toEntry);
}

function toEntry(r: Record<string, unknown>): GeocodeEntry {
  return {
    address: r.address as string,
    query: r.query as string | null,
    latitude: r.latitude as number | null,
    longitude: r.longitude as number | null,
    displayName: r.display_name as string | null,
    precision: r.precision as GeoPrecision | null,
    provider: r.provider as string | null,
    server: r.server as string | null,
    lookedUpUnixSeconds: r.looked_up_unix_seconds as number | null,
    status: r.status as GeocodeEntry['status'],
    error: r.error as string | null,
    attempts: r.attempts as number,
    lastAttemptUnixSeconds: r.last_attempt_unix_seconds as number | null,
    nextRetryUnixSeconds: r.next_retry_unix_seconds as number | null,
  };
}

/** A successful lookup: the location, and the failure count reset. */
export async function saveGeocodeResult(
  db: Db | SqlDb,
  r: { address: string; query: string; latitude: number; longitude: number; displayName: string | null; precision: GeoPrecision; provider: string; server: string; nowUnixSeconds: number },
): Promise<void> {
  if (!Number.isFinite(r.latitude) || !Number.isFinite(r.longitude) || Math.abs(r.latitude) > 90 || Math.abs(r.longitude) > 180) {
    throw new RangeError(`refusing to store an invalid location ${r.latitude},${r.longitude}`);
  }
  await asSql(db).run(
    `INSERT INTO geocode_cache (address, query, latitude, longitude, display_name, precision, provider, server, looked_up_unix_seconds, status, error, attempts, last_attempt_unix_seconds, next_retry_unix_seconds)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', NULL, 0, ?, NULL)
     ON CONFLICT (address) DO UPDATE SET query = excluded.query, latitude = excluded.latitude, longitude = excluded.longitude,
       display_name = excluded.display_name, precision = excluded.precision, provider = excluded.provider, server = excluded.server,
       looked_up_unix_seconds = excluded.looked_up_unix_seconds, status = 'ok', error = NULL, attempts = 0,
       last_attempt_unix_seconds = excluded.last_attempt_unix_seconds, next_retry_unix_seconds = NULL`,
    [r.address, r.query, r.latitude, r.longitude, r.displayName, r.precision, r.provider, r.server, r.nowUnixSeconds, r.nowUnixSeconds],
  );
}

/**
 * A failed lookup: the reason, one more attempt, when to retry. A location found earlier (an
 * address being refreshed) is kept, and so is its status `ok` only if `status` says so.
 */
export async function saveGeocodeFailure(
  db: Db | SqlDb,
  r: { address: string; status: 'pending' | 'failed'; error: string; attempts: number; nextRetryUnixSeconds: number; server: string; nowUnixSeconds: number },
): Promise<void> {
  await asSql(db).run(
    `INSERT INTO geocode_cache (address, server, status, error, attempts, last_attempt_unix_seconds, next_retry_unix_seconds)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (address) DO UPDATE SET status = excluded.status, error = excluded.error, attempts = excluded.attempts,
       last_attempt_unix_seconds = excluded.last_attempt_unix_seconds, next_retry_unix_seconds = excluded.next_retry_unix_seconds`,
    [r.address, r.server, r.status, r.error, r.attempts, r.nowUnixSeconds, r.nextRetryUnixSeconds],
  );
}

/** A node's location fields, as geolocation reads and writes them. */
export interface NodeLocation {
  name: string;
  address: string | null;
  latitude: number | null;
  longitude: number | null;
  source: LocationSource | null;
  precision: GeoPrecision | null;
  error: string | null;
  unixSeconds: number | null;
}

/** The location fields of every node in the inventory (removed nodes left out). */
export async function nodeLocations(db: Db | SqlDb): Promise<Map<string, NodeLocation>> {
  const rows = await asSql(db).all<NodeLocation>(
    `SELECT name, address, latitude, longitude, location_source AS source, location_precision AS precision, location_error AS error, location_unix_seconds AS "unixSeconds"
     FROM nodes WHERE removed_unix_seconds IS NULL`,
  );
  return new Map(rows.map((r) => [r.name, r]));
}

/**
 * Write a node's location fields. `latitude`/`longitude` undefined keep the last known location
 * (a lookup that failed or has not happened yet); null clears it (the inventory dropped it).
 */
export async function updateNodeLocation(
  db: Db | SqlDb,
  u: { name: string; address: string | null; latitude?: number | null; longitude?: number | null; source: LocationSource | null; precision?: GeoPrecision | null; error: string | null; nowUnixSeconds: number },
): Promise<void> {
  const { latitude, longitude } = u;
  const setCoordinates = latitude !== undefined && longitude !== undefined;
  if (setCoordinates && latitude !== null && longitude !== null && (!Number.isFinite(latitude) || !Number.isFinite(longitude) || Math.abs(latitude) > 90 || Math.abs(longitude) > 180)) {
    throw new RangeError(`refusing to store an invalid location ${latitude},${longitude}`);
  }
  const set = setCoordinates ? 1 : 0;
  await asSql(db).run(
    `UPDATE nodes SET address = ?, location_source = ?, location_error = ?,
       latitude = CASE WHEN CAST(? AS INTEGER) = 1 THEN ? ELSE latitude END,
       longitude = CASE WHEN CAST(? AS INTEGER) = 1 THEN ? ELSE longitude END,
       location_precision = CASE WHEN CAST(? AS INTEGER) = 1 THEN ? ELSE location_precision END,
       location_unix_seconds = CASE WHEN CAST(? AS INTEGER) = 1 THEN ? ELSE location_unix_seconds END
     WHERE name = ? AND removed_unix_seconds IS NULL`,
    [u.address, u.source, u.error, set, u.latitude ?? null, set, u.longitude ?? null, set, u.precision ?? null, set, u.nowUnixSeconds, u.name],
  );
}

/**
 * The geocoder's request slots kept in the store, so that processes sharing it (the hub and an
 * `edgefleet geolocate`, or several hubs on one PostgreSQL) together stay within a server's rate
 * limit. Satisfies geo's SlotStore: a request claims the present only, by ONE conditional upsert
 * (the row is locked by it on PostgreSQL, the database on SQLite), so two processes never both
 * get a slot within the interval.
 */
export function geocoderSlots(db: Db | SqlDb) {
  const sql = asSql(db);
  return {
    async reserve(server: string, nowMs: number, minIntervalMs: number): Promise<number> {
      const now = Math.floor(nowMs);
      const claimed = await sql.get<{ next: number }>(
        `INSERT INTO geocoder_servers (server, next_request_unix_ms) VALUES (?, CAST(? AS BIGINT))
         ON CONFLICT (server) DO UPDATE SET next_request_unix_ms = excluded.next_request_unix_ms
         WHERE geocoder_servers.next_request_unix_ms <= CAST(? AS BIGINT)
         RETURNING next_request_unix_ms AS next`,
        [server, now + Math.ceil(minIntervalMs), now],
      );
      if (claimed) return now;
      const row = await sql.get<{ next: number }>('SELECT next_request_unix_ms AS next FROM geocoder_servers WHERE server = ?', [server]);
      // Freed between the two statements: ask again at once.
      return Math.max(row?.next ?? now + 1, now + 1);
    },
    /** The request ended at `endedMs`: nothing starts before `endedMs + minIntervalMs` (a later next stays). */
    async release(server: string, endedMs: number, minIntervalMs: number): Promise<void> {
      await sql.run(
        `INSERT INTO geocoder_servers (server, next_request_unix_ms) VALUES (?, CAST(? AS BIGINT))
         ON CONFLICT (server) DO UPDATE SET next_request_unix_ms = CASE WHEN geocoder_servers.next_request_unix_ms > excluded.next_request_unix_ms
           THEN geocoder_servers.next_request_unix_ms ELSE excluded.next_request_unix_ms END`,
        [server, Math.ceil(endedMs + minIntervalMs)],
      );
    },
  };
}

/** A geocoding server's health: consecutive failures to answer, and when to try it again. */
export interface GeocoderServerState {
  failures: number;
  retryAfterUnixSeconds: number | null;
  lastError: string | null;
}

export async function geocoderServerState(db: Db | SqlDb, server: string): Promise<GeocoderServerState> {
  const r = await asSql(db).get<GeocoderServerState>('SELECT failures, retry_after_unix_seconds AS "retryAfterUnixSeconds", last_error AS "lastError" FROM geocoder_servers WHERE server = ?', [server]);
  return r ?? { failures: 0, retryAfterUnixSeconds: null, lastError: null };
}

/** The server answered (whatever it said): no backoff. */
export async function recordGeocoderAnswer(db: Db | SqlDb, server: string): Promise<void> {
  await asSql(db).run(
    `INSERT INTO geocoder_servers (server, failures) VALUES (?, 0)
     ON CONFLICT (server) DO UPDATE SET failures = 0, retry_after_unix_seconds = NULL, last_error = NULL`,
    [server],
  );
}

/** The server did not answer: one more failure, no lookups before `retryAfterUnixSeconds`. */
export async function recordGeocoderOutage(db: Db | SqlDb, server: string, failures: number, retryAfterUnixSeconds: number, error: string): Promise<void> {
  await asSql(db).run(
    `INSERT INTO geocoder_servers (server, failures, retry_after_unix_seconds, last_error) VALUES (?, ?, ?, ?)
     ON CONFLICT (server) DO UPDATE SET failures = excluded.failures, retry_after_unix_seconds = excluded.retry_after_unix_seconds, last_error = excluded.last_error`,
    [server, failures, retryAfterUnixSeconds, error],
  );
}
