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

/**
 * Refuse a request without one of `api.keys` (401), or any request when none is configured
 * (403). Keys are compared as SHA-256 digests with timingSafeEqual, every key every time, so
 * the time taken says nothing about how much of a key matched; they are never logged.
 */
export function requireApiKey(event: HttpEvent, config: Config): void {
  if (config.api.keys.length === 0) throw new HttpError(403, 'this route needs api.keys (or EDGEFLEET_API_KEY) configured on the server');
  const key = presented(event);
  if (!key) throw new HttpError(401, 'an API key is needed: Authorization: Bearer KEY, or X-Api-Key: KEY');
  const given = digest(key);
  let ok = false;
  for (const k of config.api.keys) ok = timingSafeEqual(given, digest(k)) || ok;
  if (!ok) throw new HttpError(401, 'the API key is not accepted');
}
