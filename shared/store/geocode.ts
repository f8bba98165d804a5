import type { GeoPrecision, LocationSource } from '../domain/index.js';
import type { Db } from './db.js';

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

export function getGeocodeEntry(db: Db, address: string): GeocodeEntry | undefined {
  const r = db.prepare('SELECT * FROM geocode_cache WHERE address = ?').get(address) as Record<string, unknown> | undefined;
  return r && toEntry(r);
}

export function listGeocodeEntries(db: Db): GeocodeEntry[] {
  return (db.prepare('SELECT * FROM geocode_cache ORDER BY address').all() as Record<string, unknown>[]).map(toEntry);
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
export function saveGeocodeResult(
  db: Db,
  r: { address: string; query: string; latitude: number; longitude: number; displayName: string | null; precision: GeoPrecision; provider: string; server: string; nowUnixSeconds: number },
): void {
  if (!Number.isFinite(r.latitude) || !Number.isFinite(r.longitude) || Math.abs(r.latitude) > 90 || Math.abs(r.longitude) > 180) {
    throw new RangeError(`refusing to store an invalid location ${r.latitude},${r.longitude}`);
  }
  db.prepare(
    `INSERT INTO geocode_cache (address, query, latitude, longitude, display_name, precision, provider, server, looked_up_unix_seconds, status, error, attempts, last_attempt_unix_seconds, next_retry_unix_seconds)
     VALUES (@address, @query, @latitude, @longitude, @displayName, @precision, @provider, @server, @nowUnixSeconds, 'ok', NULL, 0, @nowUnixSeconds, NULL)
     ON CONFLICT (address) DO UPDATE SET query = excluded.query, latitude = excluded.latitude, longitude = excluded.longitude,
       display_name = excluded.display_name, precision = excluded.precision, provider = excluded.provider, server = excluded.server,
       looked_up_unix_seconds = excluded.looked_up_unix_seconds, status = 'ok', error = NULL, attempts = 0,
       last_attempt_unix_seconds = excluded.last_attempt_unix_seconds, next_retry_unix_seconds = NULL`,
  ).run(r);
}

/**
 * A failed lookup: the reason, one more attempt, when to retry. A location found earlier (an
 * address being refreshed) is kept, and so is its status `ok` only if `status` says so.
 */
export function saveGeocodeFailure(
  db: Db,
  r: { address: string; status: 'pending' | 'failed'; error: string; attempts: number; nextRetryUnixSeconds: number; server: string; nowUnixSeconds: number },
): void {
  db.prepare(
    `INSERT INTO geocode_cache (address, server, status, error, attempts, last_attempt_unix_seconds, next_retry_unix_seconds)
     VALUES (@address, @server, @status, @error, @attempts, @nowUnixSeconds, @nextRetryUnixSeconds)
     ON CONFLICT (address) DO UPDATE SET status = excluded.status, error = excluded.error, attempts = excluded.attempts,
       last_attempt_unix_seconds = excluded.last_attempt_unix_seconds, next_retry_unix_seconds = excluded.next_retry_unix_seconds`,
  ).run(r);
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
export function nodeLocations(db: Db): Map<string, NodeLocation> {
  const rows = db
    .prepare(
      `SELECT name, address, latitude, longitude, location_source AS source, location_precision AS precision, location_error AS error, location_unix_seconds AS unixSeconds
       FROM nodes WHERE removed_unix_seconds IS NULL`,
    )
    .all() as NodeLocation[];
  return new Map(rows.map((r) => [r.name, r]));
}

/**
 * Write a node's location fields. `latitude`/`longitude` undefined keep the last known location
 * (a lookup that failed or has not happened yet); null clears it (the inventory dropped it).
 */
export function updateNodeLocation(
  db: Db,
  u: { name: string; address: string | null; latitude?: number | null; longitude?: number | null; source: LocationSource | null; precision?: GeoPrecision | null; error: string | null; nowUnixSeconds: number },
): void {
  const { latitude, longitude } = u;
  const setCoordinates = latitude !== undefined && longitude !== undefined;
  if (setCoordinates && latitude !== null && longitude !== null && (!Number.isFinite(latitude) || !Number.isFinite(longitude) || Math.abs(latitude) > 90 || Math.abs(longitude) > 180)) {
    throw new RangeError(`refusing to store an invalid location ${latitude},${longitude}`);
  }
  db.prepare(
    `UPDATE nodes SET address = @address, location_source = @source, location_error = @error,
       latitude = CASE WHEN @set THEN @latitude ELSE latitude END,
       longitude = CASE WHEN @set THEN @longitude ELSE longitude END,
       location_precision = CASE WHEN @set THEN @precision ELSE location_precision END,
       location_unix_seconds = CASE WHEN @set THEN @now ELSE location_unix_seconds END
     WHERE name = @name AND removed_unix_seconds IS NULL`,
  ).run({
    name: u.name,
    address: u.address,
    source: u.source,
    error: u.error,
    set: setCoordinates ? 1 : 0,
    latitude: u.latitude ?? null,
    longitude: u.longitude ?? null,
    precision: u.precision ?? null,
    now: u.nowUnixSeconds,
  });
}

/**
 * The geocoder's request slots kept in the database, so that two processes (the hub and an
 * `edgefleet geolocate`) together stay within a server's rate limit. Satisfies geo's SlotStore.
 */
export function geocoderSlots(db: Db) {
  const get = db.prepare('SELECT next_request_unix_ms AS next FROM geocoder_servers WHERE server = ?');
  const put = db.prepare(
    `INSERT INTO geocoder_servers (server, next_request_unix_ms) VALUES (?, ?)
     ON CONFLICT (server) DO UPDATE SET next_request_unix_ms = MAX(next_request_unix_ms, excluded.next_request_unix_ms)`,
  );
  return {
    reserve(server: string, earliestMs: number, minIntervalMs: number): number {
      return db.transaction(() => {
        const row = get.get(server) as { next: number } | undefined;
        const slot = Math.max(earliestMs, row?.next ?? 0);
        put.run(server, slot + minIntervalMs);
        return slot;
      }).immediate();
    },
    release(server: string, endedMs: number, minIntervalMs: number): void {
      put.run(server, endedMs + minIntervalMs);
    },
  };
}

/** A geocoding server's health: consecutive failures to answer, and when to try it again. */
export interface GeocoderServerState {
  failures: number;
  retryAfterUnixSeconds: number | null;
  lastError: string | null;
}

export function geocoderServerState(db: Db, server: string): GeocoderServerState {
  const r = db.prepare('SELECT failures, retry_after_unix_seconds AS retryAfterUnixSeconds, last_error AS lastError FROM geocoder_servers WHERE server = ?').get(server) as
    | GeocoderServerState
    | undefined;
  return r ?? { failures: 0, retryAfterUnixSeconds: null, lastError: null };
}

/** The server answered (whatever it said): no backoff. */
export function recordGeocoderAnswer(db: Db, server: string): void {
  db.prepare(
    `INSERT INTO geocoder_servers (server, failures) VALUES (?, 0)
     ON CONFLICT (server) DO UPDATE SET failures = 0, retry_after_unix_seconds = NULL, last_error = NULL`,
  ).run(server);
}

/** The server did not answer: one more failure, no lookups before `retryAfterUnixSeconds`. */
export function recordGeocoderOutage(db: Db, server: string, failures: number, retryAfterUnixSeconds: number, error: string): void {
  db.prepare(
    `INSERT INTO geocoder_servers (server, failures, retry_after_unix_seconds, last_error) VALUES (@server, @failures, @retryAfterUnixSeconds, @error)
     ON CONFLICT (server) DO UPDATE SET failures = excluded.failures, retry_after_unix_seconds = excluded.retry_after_unix_seconds, last_error = excluded.last_error`,
  ).run({ server, failures, retryAfterUnixSeconds, error });
}
