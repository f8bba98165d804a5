import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/config.js';
import { HttpError } from './errors.js';
import type { HttpEvent } from './middleware.js';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The key a request carries: `Authorization: Bearer KEY`, else `X-Api-Key: KEY`. */
function presented(event: HttpEvent): string | undefined {
  const headers = Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const auth = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? '');
  return auth?.[1]?.trim() ?? headers['x-api-key']?.trim();
}

/** True when any of `keys` is `key`: SHA-256 digests with timingSafeEqual, every key every time. */
function matches(key: string, keys: readonly string[]): boolean {
  const given = digest(key);
  let ok = false;
  for (const k of keys) ok = timingSafeEqual(given, digest(k)) || ok;
  return ok;
}

/** `127.0.0.0/8`, `::1`, `localhost`: addresses only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Whether reads need no key in this process. Only `edgefleet hub` on a loopback address sets it
 * (whoever can reach 127.0.0.1 can read the database file too, as with Prometheus' and
 * Grafana's defaults); serverless, AWS and a hub on any other address keep it false.
 */
let readsOpen = false;
export function openReads(open: boolean): void {
  readsOpen = open;
}

export type Access = 'read' | 'write';

export interface KeyOptions {
  /** `read`: api.keys or api.readKeys; `write` (default): api.keys only. */
  access?: Access;
  /** A key even from loopback (deployments, which say what runs where and with which settings). */
  always?: boolean;
}

/**
 * Refuse a request without an accepted key (401), a read-only key on a route that changes
 * things (403), or any request when no key is configured at all (403). Keys are compared as
 * SHA-256 digests with timingSafeEqual, every key every time, so the time taken says nothing
 * about how much of a key matched; they are never logged.
 */
export function requireApiKey(event: HttpEvent, config: Config, opts: KeyOptions = {}): void {
  const access = opts.access ?? 'write';
  if (access === 'read' && readsOpen && !opts.always) return;
  const readKeys = config.api.readKeys ?? [];
  const accepted = access === 'write' ? config.api.keys : [...config.api.keys, ...readKeys];
  if (accepted.length === 0) {
    throw new HttpError(
      403,
      access === 'write'
        ? 'this route needs api.keys (or EDGEFLEET_API_KEY) configured on the server'
        : 'reading needs a key here (the hub listens beyond loopback, or runs under serverless): configure api.readKeys or api.keys (EDGEFLEET_API_READ_KEY, EDGEFLEET_API_KEY)',
    );
  }
  const key = presented(event);
  if (!key) throw new HttpError(401, 'an API key is needed: Authorization: Bearer KEY, or X-Api-Key: KEY');
  if (matches(key, accepted)) return;
  if (access === 'write' && matches(key, readKeys)) throw new HttpError(403, 'this key may only read (api.readKeys); changes need one of api.keys');
  throw new HttpError(401, 'the API key is not accepted');
}

/** Whether the request may read: no key needed here, or it carries an accepted one. Never throws. */
export function mayRead(event: HttpEvent, config: Config): boolean {
  try {
    requireApiKey(event, config, { access: 'read' });
    return true;
  } catch {
    return false;
  }
}
