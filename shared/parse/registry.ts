/**
 * Pure parsers for what a Docker Registry HTTP API V2 / OCI Distribution registry answers:
 * `WWW-Authenticate` challenges, `Link` pagination, catalog and tag lists, token responses,
 * manifests (OCI index, Docker manifest list, OCI manifest, Docker v2 manifest) and image
 * configs. No I/O: the client in shared/registry/ feeds them the bodies and headers.
 */
import { MODEL_LABELS, OCI_LABELS } from '../domain/model.js';
import { ParseError } from './errors.js';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

/** The `Accept` header for manifests: every type edgefleet understands, indexes first. */
export const MANIFEST_ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest].join(', ');

const INDEX_TYPES: readonly string[] = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList];
const IMAGE_TYPES: readonly string[] = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest];
const SCHEMA1_TYPES = ['application/vnd.docker.distribution.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v1+prettyjws'];

// ---------------------------------------------------------------------------------------------
// Names (the distribution spec's grammar)

/** A repository name: path components of lowercase alphanumerics joined by `.`, `_`, `__` or dashes. */
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export const isRepositoryName = (s: string): boolean => s.length <= 255 && REPOSITORY.test(s);
export const isTag = (s: string): boolean => TAG.test(s);
export const isDigest = (s: string): boolean => DIGEST.test(s);

export interface ModelReference {
  repository: string;
  tag?: string;
}

/** `lab/yolo:v8` or `lab/yolo` → repository and tag; throws ParseError on anything else. */
export function parseModelReference(text: string): ModelReference {
  const colon = text.lastIndexOf(':');
  const slash = text.lastIndexOf('/');
  const [repository, tag] = colon > slash ? [text.slice(0, colon), text.slice(colon + 1)] : [text, undefined];
  if (!isRepositoryName(repository)) throw new ParseError('model reference', 'not a repository name (lowercase letters, digits, . _ - separators, / between components)', { text });
  if (tag !== undefined && !isTag(tag)) throw new ParseError('model reference', 'not a tag (letters, digits, _ . -; at most 128)', { text });
  return tag === undefined ? { repository } : { repository, tag };
}

// ---------------------------------------------------------------------------------------------
// Headers

export interface AuthChallenge {
  /** Lowercased: `basic`, `bearer`. */
  scheme: string;
  /** Parameter names lowercased; values unquoted. */
  params: Record<string, string>;
}

/**
 * `WWW-Authenticate` (RFC 7235): one or more challenges, each a scheme and comma-separated
 * `name=value` or `name="quoted value"` parameters. `Bearer realm="https://auth.example/token",
 * service="registry",scope="repository:lab/yolo:pull"` → [{ scheme: 'bearer', params: {…} }].
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let i = 0;
  const n = header.length;
  const skip = (re: RegExp) => {
    while (i < n && re.test(header[i]!)) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  let current: AuthChallenge | undefined;
  while (i < n) {
    skip(/[\s,]/);
    if (i >= n) break;
    const start = i;
    const name = token();
    if (!name) throw new ParseError('WWW-Authenticate', 'expected a scheme or parameter name', { text: header.slice(start) });
    skip(/[ \t]/);
    if (header[i] === '=' && current) {
      i++;
      skip(/[ \t]/);
      let value: string;
      if (header[i] === '"') {
        i++;
        value = '';
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i++];
        }
        if (header[i] !== '"') throw new ParseError('WWW-Authenticate', 'unterminated quoted value', { text: header.slice(start) });
        i++;
      } else {
        const vStart = i;
        while (i < n && header[i] !== ',' && !/\s/.test(header[i]!)) i++;
        value = header.slice(vStart, i);
      }
      current.params[name.toLowerCase()] = value;
    } else if (header[i] === '=') {
      throw new ParseError('WWW-Authenticate', 'a parameter before any scheme', { text: header });
    } else {
      current = { scheme: name.toLowerCase(), params: {} };
      challenges.push(current);
    }
  }
  return challenges;
}

/**
 * The `rel="next"` target of a `Link` header, resolved against `base` (the request's URL): the
 * registry's `</v2/_catalog?last=b&n=100>; rel="next"` is relative. Undefined when there is none.
 */
export function parseLinkNext(header: string | undefined, base: string): string | undefined {
  if (!header) return undefined;
  for (const m of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,]+)*)/g)) {
    const rels = /;\s*rel\s*=\s*"?([^";,]+)"?/i.exec(m[2] ?? '')?.[1]?.toLowerCase().split(/\s+/) ?? [];
    if (!rels.includes('next')) continue;
    try {
      return new URL(m[1]!, base).href;
    } catch (e) {
      throw new ParseError('Link', 'not a URL', { text: m[1]!, cause: e });
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// JSON bodies

function parseJson(what: string, body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (e) {
    throw new ParseError(what, 'not JSON', { text: body, cause: e });
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringList(what: string, v: unknown, field: string): string[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ParseError(what, `"${field}" is not a list of strings`, { text: JSON.stringify(v) });
  return v as string[];
}

/** `GET /v2/_catalog`: `{"repositories": [...]}` (null or absent on an empty page). */
export function parseCatalog(body: string): string[] {
  const doc = parseJson('catalog', body);
  if (!isObject(doc)) throw new ParseError('catalog', 'expected an object', { text: body });
  return stringList('catalog', doc.repositories, 'repositories');
}

/** `GET /v2/<name>/tags/list`: `{"name": ..., "tags": [...]}` (tags null when the repository has none). */
export function parseTagList(body: string): string[] {
  const doc = parseJson('tag list', body);
  if (!isObject(doc)) throw new ParseError('tag list', 'expected an object', { text: body });
  return stringList('tag list', doc.tags, 'tags');
}

export interface TokenResponse {
  token: string;
  /** Lifetime the server gave (default 60 s, as the token spec says). */
  expiresInSeconds: number;
}

/** A token endpoint's answer: `token` (or OAuth2's `access_token`), `expires_in`. */
export function parseTokenResponse(body: string): TokenResponse {
  const doc = parseJson('token response', body);
  if (!isObject(doc)) throw new ParseError('token response', 'expected an object', { text: body });
  const token = typeof doc.token === 'string' && doc.token ? doc.token : typeof doc.access_token === 'string' ? doc.access_token : '';
  if (!token) throw new ParseError('token response', 'no "token" or "access_token"', { text: Object.keys(doc).join(',') });
  if (/[\s"\\]/.test(token) || token.length > 16384) throw new ParseError('token response', 'the token has characters a header cannot carry, or is too long');
  const e = doc.expires_in;
  const expiresInSeconds = typeof e === 'number' && Number.isFinite(e) && e > 0 ? e : 60;
  return { token, expiresInSeconds };
}

/** A registry's error body: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}]}` → `MANIFEST_UNKNOWN: ...`. */
export function registryErrorText(body: string): string | undefined {
  try {
    const doc = JSON.parse(body) as unknown;
    if (!isObject(doc) || !Array.isArray(doc.errors)) return undefined;
    const parts = doc.errors.filter(isObject).map((e) => [e.code, e.message].filter((x) => typeof x === 'string' && x).join(': '));
    return parts.filter(Boolean).join('; ').slice(0, 300) || undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Manifests

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  /** Bytes. */
  size: number;
  platform?: Platform;
  annotations: Record<string, string>;
}

export interface IndexManifest {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
  annotations: Record<string, string>;
}

export interface ImageManifest {
  kind: 'image';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations: Record<string, string>;
}

export type Manifest = IndexManifest | ImageManifest;

function stringMap(v: unknown): Record<string, string> {
  if (!isObject(v)) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

function descriptor(what: string, v: unknown, field: string): Descriptor {
  if (!isObject(v)) throw new ParseError(what, `${field} is not an object`, { text: JSON.stringify(v) ?? 'undefined' });
  const { mediaType, digest, size } = v;
  if (typeof digest !== 'string' || !isDigest(digest)) throw new ParseError(what, `${field}.digest is not a sha256 or sha512 digest`, { text: String(digest) });
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new ParseError(what, `${field}.size is not a byte count`, { text: String(size) });
  const d: Descriptor = { mediaType: typeof mediaType === 'string' ? mediaType : '', digest, size, annotations: stringMap(v.annotations) };
  if (isObject(v.platform)) {
    const p = v.platform;
    if (typeof p.os !== 'string' || typeof p.architecture !== 'string') throw new ParseError(what, `${field}.platform needs os and architecture`, { text: JSON.stringify(p) });
    d.platform = { os: p.os, architecture: p.architecture, ...(typeof p.variant === 'string' && p.variant ? { variant: p.variant } : {}) };
  }
  return d;
}

/**
 * A manifest body → an index (OCI index, Docker manifest list) or an image manifest (OCI,
 * Docker v2). The type is the body's `mediaType`, else the response's Content-Type, else
 * guessed from the fields (OCI allows leaving it out). Schema 1 is refused.
 */
export function parseManifest(body: string, contentType = '', what = 'manifest'): Manifest {
  const doc = parseJson(what, body);
  if (!isObject(doc)) throw new ParseError(what, 'expected an object', { text: body });
  const headerType = contentType.split(';')[0]!.trim().toLowerCase();
  if (doc.schemaVersion === 1 || SCHEMA1_TYPES.includes(headerType)) throw new ParseError(what, 'schema 1 manifests are not supported (push the image again with a current client)');
  if (doc.schemaVersion !== 2) throw new ParseError(what, 'schemaVersion is not 2', { text: String(doc.schemaVersion) });
  let mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : '';
  if (!mediaType) mediaType = INDEX_TYPES.includes(headerType) || IMAGE_TYPES.includes(headerType) ? headerType : Array.isArray(doc.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest;
  const annotations = stringMap(doc.annotations);
  if (INDEX_TYPES.includes(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new ParseError(what, '"manifests" is not a list', { text: JSON.stringify(doc.manifests) ?? 'undefined' });
    return { kind: 'index', mediaType, manifests: doc.manifests.map((m, i) => descriptor(what, m, `manifests[${i}]`)), annotations };
  }
  if (IMAGE_TYPES.includes(mediaType)) {
    if (!Array.isArray(doc.layers)) throw new ParseError(what, '"layers" is not a list', { text: JSON.stringify(doc.layers) ?? 'undefined' });
    return { kind: 'image', mediaType, config: descriptor(what, doc.config, 'config'), layers: doc.layers.map((l, i) => descriptor(what, l, `layers[${i}]`)), annotations };
  }
  throw new ParseError(what, 'not a manifest type edgefleet knows', { text: mediaType });
}

/** `linux/arm64/v8`. */
export const platformName = (p: Platform): string => [p.os, p.architecture, p.variant].filter(Boolean).join('/');

/**
 * The index entries that are runnable images: attestations and signatures (BuildKit's
 * `unknown/unknown` entries with `vnd.docker.reference.type`) and nested indexes are not.
 */
export function runnableEntries(index: IndexManifest): (Descriptor & { platform: Platform })[] {
  return index.manifests.filter(
    (d): d is Descriptor & { platform: Platform } =>
      d.platform !== undefined && d.platform.os !== 'unknown' && d.platform.architecture !== 'unknown' && !d.annotations['vnd.docker.reference.type'] && !INDEX_TYPES.includes(d.mediaType),
  );
}

/** Layers plus config, bytes: what pulling this image transfers (before layers shared with others). */
export const imageSizeBytes = (m: ImageManifest): number => m.config.size + m.layers.reduce((s, l) => s + l.size, 0);

// ---------------------------------------------------------------------------------------------
// Image config

export interface ImageConfig {
  os?: string;
  architecture?: string;
  variant?: string;
  /** The config's `created`, unix seconds. */
  createdUnixSeconds?: number;
  /** `config.Labels`; non-string values dropped. */
  labels: Record<string, string>;
}

/** An image config blob (OCI image config / Docker container config). */
export function parseImageConfig(body: string, what = 'image config'): ImageConfig {
  const doc = parseJson(what, body);
  if (!isObject(doc)) throw new ParseError(what, 'expected an object', { text: body });
  const c: ImageConfig = { labels: isObject(doc.config) ? stringMap(doc.config.Labels) : {} };
  if (typeof doc.os === 'string') c.os = doc.os;
  if (typeof doc.architecture === 'string') c.architecture = doc.architecture;
  if (typeof doc.variant === 'string' && doc.variant) c.variant = doc.variant;
  const created = typeof doc.created === 'string' ? parseRfc3339(doc.created) : undefined;
  if (created !== undefined) c.createdUnixSeconds = created;
  return c;
}

/** RFC 3339 (`2024-05-01T12:00:00Z`, with offset or fraction) → unix seconds; undefined when it is not one. */
export function parseRfc3339(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(text.trim())) return undefined;
  const ms = Date.parse(text.trim().replace(' ', 'T'));
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/** The catalog fields from an image's labels (and the manifest's annotations under them). */
export interface ModelFields {
  title?: string;
  description?: string;
  version?: string;
  createdUnixSeconds?: number;
  task?: string;
  framework?: string;
  input?: string;
  output?: string;
}

/** Longest label value kept in a catalog column; the labels JSON keeps the whole value. */
const FIELD_MAX_CHARS = 2000;

export function modelFields(labels: Record<string, string>, configCreatedUnixSeconds?: number): ModelFields {
  const f: ModelFields = {};
  const put = (key: keyof Omit<ModelFields, 'createdUnixSeconds'>, label: string) => {
    const v = labels[label]?.trim();
    if (v) f[key] = v.slice(0, FIELD_MAX_CHARS);
  };
  put('title', OCI_LABELS.title);
  put('description', OCI_LABELS.description);
  put('version', OCI_LABELS.version);
  put('task', MODEL_LABELS.task);
  put('framework', MODEL_LABELS.framework);
  put('input', MODEL_LABELS.input);
  put('output', MODEL_LABELS.output);
  const created = labels[OCI_LABELS.created] !== undefined ? parseRfc3339(labels[OCI_LABELS.created]!) : undefined;
  const when = created ?? configCreatedUnixSeconds;
  if (when !== undefined) f.createdUnixSeconds = when;
  return f;
}
