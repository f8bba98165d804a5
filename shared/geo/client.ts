import NodeGeocoder from 'node-geocoder';
import { limiterFor, type SlotStore } from './rateLimit.js';

/** The public OpenStreetMap Nominatim server: its usage policy is one request per second at most. */
export const PUBLIC_NOMINATIM = 'https://nominatim.openstreetmap.org';
/** Nominatim's floor for the public servers, milliseconds between requests. */
export const PUBLIC_MIN_INTERVAL_MS = 1000;
/** The identification sent when none is configured (Nominatim refuses stock library user agents). */
export const DEFAULT_USER_AGENT = 'edgefleet/0.1.0 (edge fleet monitoring; node-geocoder)';
/** A response larger than this is not a geocoding answer. */
const MAX_RESPONSE_BYTES = 1 << 20;
const MAX_DISPLAY_NAME = 500;

/** The `geocoder` section of the configuration. */
export interface GeocoderOptions {
  url: string;
  userAgent: string;
  email: string;
  minIntervalMs: number;
  timeoutSeconds: number;
  language: string;
}

/** Checked settings: what the client actually uses. */
export interface GeocoderSettings {
  /** Base URL without a trailing slash; `/search` is appended. */
  url: string;
  /** Scheme, host and port: the key of the rate limit. */
  server: string;
  /** The URL as logs show it: no credentials, no query. */
  displayUrl: string;
  userAgent: string;
  email: string;
  minIntervalMs: number;
  timeoutMs: number;
  language: string;
  /** Settings that were raised to what the server's policy requires. */
  adjusted: string[];
}

export class GeocoderConfigError extends Error {
  override name = 'GeocoderConfigError';
}

/** Is this the public OpenStreetMap Nominatim (or another openstreetmap.org host)? */
export function isPublicNominatim(url: string): boolean {
  const host = new URL(url).hostname.toLowerCase();
  return host === 'openstreetmap.org' || host.endsWith('.openstreetmap.org');
}

/** The URL without user info and query string, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return '<invalid url>';
  }
}

/** Check the `geocoder` configuration; enforce the public Nominatim's one request per second and identification. */
export function geocoderSettings(o: GeocoderOptions): GeocoderSettings {
  let u: URL;
  try {
    u = new URL(o.url);
  } catch {
    throw new GeocoderConfigError(`geocoder.url: not a URL: ${JSON.stringify(redactUrl(o.url))}`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new GeocoderConfigError(`geocoder.url: must be http or https, got ${u.protocol}`);
  if (u.username || u.password) throw new GeocoderConfigError('geocoder.url: credentials in the URL are not supported (and would be sent in every request)');
  if (u.search || u.hash) throw new GeocoderConfigError('geocoder.url: the server base URL, without a query string (/search is appended)');
  if (!Number.isFinite(o.minIntervalMs) || o.minIntervalMs < 0) throw new GeocoderConfigError(`geocoder.minIntervalMs: must be a number of milliseconds ≥ 0, got ${o.minIntervalMs}`);
  if (!Number.isFinite(o.timeoutSeconds) || o.timeoutSeconds <= 0) throw new GeocoderConfigError(`geocoder.timeoutSeconds: must be > 0, got ${o.timeoutSeconds}`);
  const email = o.email.trim();
  if (email && !/^[^\s@]+@[^\s@]+$/.test(email)) throw new GeocoderConfigError(`geocoder.email: not an e-mail address: ${JSON.stringify(email)}`);
  const userAgent = o.userAgent.replace(/[\r\n]/g, ' ').trim() || DEFAULT_USER_AGENT;
  const adjusted: string[] = [];
  let minIntervalMs = Math.ceil(o.minIntervalMs);
  if (isPublicNominatim(u.href) && minIntervalMs < PUBLIC_MIN_INTERVAL_MS) {
    adjusted.push(`geocoder.minIntervalMs raised from ${minIntervalMs} to ${PUBLIC_MIN_INTERVAL_MS} (Nominatim usage policy: at most one request per second)`);
    minIntervalMs = PUBLIC_MIN_INTERVAL_MS;
  }
  const url = u.href.replace(/\/+$/, '');
  return {
    url,
    server: u.origin,
    displayUrl: redactUrl(url),
    userAgent,
    email,
    minIntervalMs,
    timeoutMs: Math.round(o.timeoutSeconds * 1000),
    language: o.language.trim(),
    adjusted,
  };
}

/** A located match: coordinates checked to be finite and in range. */
export interface GeoMatch {
  latitude: number;
  longitude: number;
  /** The server's name for the place ("테헤란로, 역삼동, 강남구, 서울특별시, 06236, 대한민국"). */
  displayName: string | null;
}

/**
 * Why a lookup failed. `unavailable`: no answer (no network, refused, timeout, an HTTP error
 * status or a server-side error) — try again later. `rejected`: an answer that is not a
 * geocoding result (not JSON, coordinates missing, NaN or out of range) — never stored.
 */
export class GeocodeError extends Error {
  override name = 'GeocodeError';
  constructor(
    readonly kind: 'unavailable' | 'rejected',
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
  }
}

export interface GeocoderClient {
  /** `openstreetmap`: node-geocoder's provider name, stored with each result. */
  readonly provider: string;
  readonly settings: GeocoderSettings;
  /** HTTP requests made so far. */
  readonly requests: number;
  /** The best match for a free-text query, or null when the server has none. Throws GeocodeError. */
  search(query: string): Promise<GeoMatch | null>;
}

/** Error codes our fetch puts on its errors, which node-geocoder's adapter carries through as `code`. */
const UNAVAILABLE = 'EDGEFLEET_GEOCODER_UNAVAILABLE';
const REJECTED = 'EDGEFLEET_GEOCODER_REJECTED';

/**
 * A Nominatim client: node-geocoder's `openstreetmap` provider, given a fetch that identifies
 * edgefleet (User-Agent), waits its turn (one request per `minIntervalMs` per server, across
 * the process and — with `slots` — across processes), times out, checks the HTTP status and
 * caps the response size. node-geocoder builds the query string (URL-encoded) and parses the JSON.
 */
export function createGeocoderClient(settings: GeocoderSettings, o: { slots?: SlotStore } = {}): GeocoderClient {
  const limiter = limiterFor(settings.server, settings.minIntervalMs);
  let requests = 0;

  const politeFetch = (href: string) =>
    limiter.schedule(async () => {
      requests++;
      // node-geocoder sends every provider option as a parameter, the server URL included: drop it.
      const url = new URL(href);
      url.searchParams.delete('osmServer');
      let res: Response;
      try {
        res = await fetch(url, {
          headers: { 'user-agent': settings.userAgent, accept: 'application/json' },
          signal: AbortSignal.timeout(settings.timeoutMs),
        });
      } catch (e) {
        throw coded(UNAVAILABLE, describeFetchError(e, settings.timeoutMs));
      }
      let text: string;
      try {
        text = await readCapped(res, MAX_RESPONSE_BYTES);
      } catch (e) {
        throw coded(e instanceof RangeError ? REJECTED : UNAVAILABLE, describeFetchError(e, settings.timeoutMs));
      }
      if (!res.ok) throw coded(UNAVAILABLE, `HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}${snippet(text) ? `: ${snippet(text)}` : ''}`);
      // What node-geocoder's fetch adapter reads of a response: text(), and statusCode for its error.
      return { status: res.status, statusCode: res.status, text: async () => text };
    }, o.slots);

  const geocoder = NodeGeocoder({
    provider: 'openstreetmap',
    osmServer: settings.url,
    language: settings.language || undefined,
    fetch: politeFetch as never,
  } as NodeGeocoder.Options);
  // node-geocoder's OpenStreetMapGeocoder stores the server on its *prototype*, so the last
  // client constructed would send every client's requests to its server. Pin it on the instance.
  const provider = (geocoder as unknown as { _geocoder?: Record<string, unknown> })._geocoder;
  if (provider && typeof provider._endpoint === 'string') {
    provider._endpoint = `${settings.url}/search`;
    provider._endpoint_reverse = `${settings.url}/reverse`;
  }
  const providerName = typeof provider?.name === 'string' ? provider.name : 'openstreetmap';

  return {
    provider: providerName,
    settings,
    get requests() {
      return requests;
    },
    async search(query: string): Promise<GeoMatch | null> {
      // An object query: node-geocoder passes its keys as Nominatim parameters (`email` is not
      // among the options its factory forwards to the provider).
      const params: Record<string, string | number> = { q: query, limit: 1 };
      if (settings.email) params.email = settings.email;
      let entries: NodeGeocoder.Entry[] & { raw?: unknown };
      try {
        entries = await geocoder.geocode(params as NodeGeocoder.Query);
      } catch (e) {
        throw classify(e);
      }
      return firstMatch(entries.raw);
    },
  };
}

/** The first result of a Nominatim `/search` answer (`format=json`), checked; null for none. */
export function firstMatch(raw: unknown): GeoMatch | null {
  if (!Array.isArray(raw)) throw new GeocodeError('rejected', `expected a JSON array of results, got ${raw === null ? 'null' : typeof raw}`);
  if (raw.length === 0) return null;
  const r = raw[0] as Record<string, unknown> | null;
  if (r === null || typeof r !== 'object') throw new GeocodeError('rejected', 'result is not an object');
  const latitude = coordinate(r.lat, 'lat', 90);
  const longitude = coordinate(r.lon, 'lon', 180);
  const name = typeof r.display_name === 'string' ? r.display_name.replace(/[\u0000-\u001F\u007F]/g, ' ').trim().slice(0, MAX_DISPLAY_NAME) : null;
  return { latitude, longitude, displayName: name || null };
}

/** Nominatim sends coordinates as decimal strings ("37.5006744"); numbers are accepted too. */
function coordinate(v: unknown, field: string, limit: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*-?\d+(\.\d+)?([eE][-+]?\d+)?\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new GeocodeError('rejected', `${field} is not a number: ${JSON.stringify(v)?.slice(0, 40)}`);
  if (Math.abs(n) > limit) throw new GeocodeError('rejected', `${field} ${n} is out of range (±${limit})`);
  return n;
}

/** Map what node-geocoder rejected with to a GeocodeError. */
function classify(e: unknown): GeocodeError {
  if (e instanceof GeocodeError) return e;
  const err = e as { message?: unknown; code?: unknown; name?: unknown };
  const message = typeof err?.message === 'string' ? err.message : String(e);
  if (err?.code === UNAVAILABLE) return new GeocodeError('unavailable', message, { cause: e });
  if (err?.code === REJECTED) return new GeocodeError('rejected', message, { cause: e });
  // node-geocoder's adapter: a body that is not JSON becomes an HttpError whose message is the body.
  if (err?.name === 'HttpError') return new GeocodeError('rejected', `response is not JSON: ${snippet(message)}`, { cause: e });
  // The provider: a JSON object with an `error` member (Nominatim's error answer).
  if (e instanceof Error && !(e instanceof TypeError)) return new GeocodeError('unavailable', `server error: ${snippet(message)}`, { cause: e });
  return new GeocodeError('rejected', `unexpected response: ${snippet(message)}`, { cause: e });
}

function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function describeFetchError(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  if (e instanceof RangeError) return err.message ?? 'response too large';
  const cause = err?.cause;
  if (cause?.message) return cause.code && !cause.message.includes(cause.code) ? `${cause.code}: ${cause.message}` : cause.message;
  return err?.message ?? String(e);
}

async function readCapped(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > max) throw new RangeError(`response larger than ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The start of a response body, on one line, for an error message. */
function snippet(text: string): string {
  const s = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return s.length > 120 ? s.slice(0, 120) + '…' : s;
}
