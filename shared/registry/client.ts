import { createHash } from 'node:crypto';
import type { ModelImage, ModelPlatform } from '../domain/model.js';
import {
  imageSizeBytes,
  isDigest,
  isRepositoryName,
  isTag,
  MANIFEST_ACCEPT,
  modelFields,
  parseCatalog,
  parseImageConfig,
  parseLinkNext,
  parseManifest,
  parseTagList,
  parseTokenResponse,
  parseWwwAuthenticate,
  platformName,
  registryErrorText,
  runnableEntries,
  type AuthChallenge,
  type ImageManifest,
} from '../parse/registry.js';
import { ParseError } from '../parse/errors.js';
import { Agents, HttpTransportError, send, type HttpResponse } from './http.js';
import { displayUrl, type RegistrySettings } from './settings.js';

/**
 * What went wrong talking to a registry:
 * - `auth`: credentials missing or refused, or access denied;
 * - `unreachable`: no connection, TLS failure, timeout, or the registry is down or overloaded
 *   (429, 502, 503, 504): nothing more can be read from it now;
 * - `server`: the registry failed on this request (500: e.g. a manifest broken in its storage);
 * - `not-found`: the repository, tag, manifest or blob is not there;
 * - `protocol`: an answer that does not follow the API (bad status, bad JSON, digest mismatch).
 */
export type RegistryErrorKind = 'auth' | 'unreachable' | 'server' | 'not-found' | 'protocol';

export class RegistryError extends Error {
  override name = 'RegistryError';
  constructor(
    readonly kind: RegistryErrorKind,
    message: string,
    opts?: { cause?: unknown; status?: number },
  ) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    if (opts?.status !== undefined) this.status = opts.status;
  }
  status?: number;
}

const MAX_MANIFEST_BYTES = 4 << 20;
const MAX_CONFIG_BYTES = 8 << 20;
const MAX_LIST_BYTES = 4 << 20;
const MAX_TOKEN_BYTES = 64 << 10;
const MAX_ERROR_BYTES = 64 << 10;
const MAX_REDIRECTS = 5;
const MAX_PAGES = 10_000;
const USER_AGENT = 'edgefleet/0.1.0 (model catalog)';

/**
 * Bearer tokens, per process: a cache (ARCHITECTURE: memory may hold a registry token, never the
 * truth). Keyed by registry, user (and a hash of the password), realm, service and scope.
 */
const tokenCache = new Map<string, { token: string; expiresAtMs: number }>();

/** Forget every cached token (tests). */
export function clearTokenCache(): void {
  tokenCache.clear();
}

export interface ClientOptions {
  /** The caller's deadline: aborts whatever request is running. */
  signal?: AbortSignal;
  now?: () => number;
}

export interface Repositories {
  repositories: string[];
  /** Catalog entries that are not valid repository names: never put in a URL. */
  invalid: string[];
}

/**
 * A Docker Registry HTTP API V2 / OCI Distribution client: ping, catalog and tag lists with
 * `Link` pagination, manifests of the four types, config blobs. Auth: anonymous, basic, or the
 * bearer token flow (`WWW-Authenticate` → token endpoint → cached until it expires). Redirects
 * are followed; one to another origin drops the Authorization header.
 */
export class RegistryClient {
  /** Learned from the registry's first 401: what to send up front from then on. */
  private scheme: 'basic' | 'bearer' | undefined;
  private bearer: { realm: string; service?: string } | undefined;
  private readonly agents: Agents;
  private readonly now: () => number;
  /** Requests sent (redirect hops and token requests included). */
  readonly stats = { requests: 0, tokenRequests: 0 };

  constructor(
    readonly settings: RegistrySettings,
    private readonly opts: ClientOptions = {},
  ) {
    this.agents = new Agents({ ...(settings.ca ? { ca: settings.ca } : {}), rejectUnauthorized: !settings.insecure });
    this.now = opts.now ?? Date.now;
  }

  close(): void {
    this.agents.destroy();
  }

  private get where(): string {
    return `registry "${this.settings.name}" (${displayUrl(this.settings.url)})`;
  }

  /** `GET /v2/`: the registry answers the V2 API, and the credentials (if any) are accepted. */
  async ping(): Promise<void> {
    const res = await this.request(`/v2/`, { scope: '', maxBytes: MAX_ERROR_BYTES });
    if (res.status !== 200) throw this.statusError('GET /v2/', res);
  }

  /** Every repository of `GET /v2/_catalog`, following `Link: <…>; rel="next"` page by page. */
  async listRepositories(): Promise<Repositories> {
    const names = await this.paginate(`/v2/_catalog?n=${this.settings.pageSize}`, 'registry:catalog:*', 'catalog', parseCatalog);
    const valid = names.filter(isRepositoryName);
    return { repositories: [...new Set(valid)], invalid: names.filter((n) => !isRepositoryName(n)) };
  }

  /** Every tag of a repository; [] when the registry does not know it (any more). */
  async listTags(repository: string): Promise<string[]> {
    checkRepository(repository);
    try {
      const tags = await this.paginate(`/v2/${repository}/tags/list?n=${this.settings.pageSize}`, repoScope(repository), `tags of ${repository}`, parseTagList);
      return [...new Set(tags.filter(isTag))];
    } catch (e) {
      if (e instanceof RegistryError && e.kind === 'not-found') return [];
      throw e;
    }
  }

  /** `HEAD` a manifest: its digest, without the body. Undefined when the tag is gone. */
  async manifestDigest(repository: string, tag: string): Promise<string | undefined> {
    checkRepository(repository);
    checkReference(tag);
    const res = await this.request(`/v2/${repository}/manifests/${tag}`, { scope: repoScope(repository), method: 'HEAD', accept: MANIFEST_ACCEPT, maxBytes: 0 });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.statusError(`HEAD manifest ${repository}:${tag}`, res);
    const digest = header(res, 'docker-content-digest');
    return digest && isDigest(digest) ? digest : undefined;
  }

  /** A manifest by tag or digest, its body checked against its digest. */
  async manifest(repository: string, reference: string): Promise<{ body: string; contentType: string; digest: string }> {
    checkRepository(repository);
    checkReference(reference);
    const what = `manifest ${repository}${reference.includes(':') ? '@' : ':'}${reference}`;
    const res = await this.request(`/v2/${repository}/manifests/${reference}`, { scope: repoScope(repository), accept: MANIFEST_ACCEPT, maxBytes: MAX_MANIFEST_BYTES });
    if (res.status !== 200) throw this.statusError(`GET ${what}`, res);
    const headerDigest = header(res, 'docker-content-digest');
    const expected = isDigest(reference) ? reference : headerDigest;
    if (expected && isDigest(expected) && digestOf(res.body, expected) !== expected) {
      throw new RegistryError('protocol', `${this.where}: ${what}: the body does not match its digest ${expected}`);
    }
    if (headerDigest && isDigest(reference) && headerDigest !== reference) throw new RegistryError('protocol', `${this.where}: ${what}: Docker-Content-Digest is ${headerDigest}`);
    const digest = expected && isDigest(expected) ? expected : `sha256:${createHash('sha256').update(res.body).digest('hex')}`;
    return { body: res.body.toString('utf8'), contentType: header(res, 'content-type') ?? '', digest };
  }

  /** A blob (a config), checked against its digest. */
  async blob(repository: string, digest: string, maxBytes = MAX_CONFIG_BYTES): Promise<Buffer> {
    checkRepository(repository);
    if (!isDigest(digest)) throw new RegistryError('protocol', `not a digest: ${JSON.stringify(digest)}`);
    const res = await this.request(`/v2/${repository}/blobs/${digest}`, { scope: repoScope(repository), maxBytes });
    if (res.status !== 200) throw this.statusError(`GET blob ${repository}@${digest}`, res);
    if (digestOf(res.body, digest) !== digest) throw new RegistryError('protocol', `${this.where}: blob ${repository}@${digest}: the body does not match its digest`);
    return res.body;
  }

  /**
   * What a tag holds: its manifest; for an index, each platform's manifest (the architectures
   * the model runs on, and the size each pulls); the config blob's labels (of the first platform).
   */
  async describe(repository: string, tag: string): Promise<ModelImage> {
    const top = await this.manifest(repository, tag);
    const manifest = parseManifest(top.body, top.contentType, `manifest ${repository}:${tag}`);
    let image: ImageManifest;
    const platforms: ModelPlatform[] = [];
    let annotations = manifest.annotations;
    if (manifest.kind === 'index') {
      const entries = runnableEntries(manifest);
      if (entries.length === 0) throw new ParseError(`manifest ${repository}:${tag}`, 'the index lists no runnable platform');
      const seen = new Set<string>();
      let first: ImageManifest | undefined;
      for (const e of entries) {
        const name = platformName(e.platform);
        if (seen.has(name)) continue;
        seen.add(name);
        const child = await this.manifest(repository, e.digest);
        const m = parseManifest(child.body, child.contentType, `manifest ${repository}@${e.digest} (${name})`);
        if (m.kind !== 'image') throw new ParseError(`manifest ${repository}@${e.digest}`, 'an index inside an index is not supported');
        first ??= m;
        platforms.push({ platform: name, ...e.platform, digest: e.digest, sizeBytes: imageSizeBytes(m) });
      }
      image = first!;
      annotations = { ...manifest.annotations, ...image.annotations };
    } else {
      image = manifest;
    }
    const configBody = await this.blob(repository, image.config.digest);
    const config = parseImageConfig(configBody.toString('utf8'), `config ${repository}:${tag} (${image.config.digest})`);
    if (manifest.kind === 'image') {
      const p = { os: config.os ?? 'unknown', architecture: config.architecture ?? 'unknown', ...(config.variant ? { variant: config.variant } : {}) };
      platforms.push({ platform: platformName(p), ...p, digest: top.digest, sizeBytes: imageSizeBytes(manifest) });
    }
    const labels = { ...annotations, ...config.labels };
    const fields = modelFields(labels, config.createdUnixSeconds);
    return {
      repository,
      tag,
      digest: top.digest,
      mediaType: manifest.mediaType,
      platforms,
      sizeBytes: Math.max(...platforms.map((p) => p.sizeBytes)),
      labels,
      ...fields,
    };
  }

  // -------------------------------------------------------------------------------------------

  private async paginate(first: string, scope: string, what: string, parse: (body: string) => string[]): Promise<string[]> {
    const out: string[] = [];
    const visited = new Set<string>();
    let url: URL = new URL(this.settings.url + first);
    for (let page = 0; ; page++) {
      if (page >= MAX_PAGES) throw new RegistryError('protocol', `${this.where}: ${what}: more than ${MAX_PAGES} pages`);
      visited.add(url.href);
      const res = await this.request(url, { scope, maxBytes: MAX_LIST_BYTES });
      if (res.status !== 200) throw this.statusError(`GET ${what}`, res);
      const entries = wrapParse(this.where, () => parse(res.body.toString('utf8')));
      out.push(...entries);
      const next = wrapParse(this.where, () => parseLinkNext(header(res, 'link'), res.url));
      if (!next || entries.length === 0) break;
      const nextUrl = new URL(next);
      if (nextUrl.origin !== this.settings.origin) throw new RegistryError('protocol', `${this.where}: ${what}: the next page is on another server (${displayUrl(next)})`);
      if (visited.has(nextUrl.href)) throw new RegistryError('protocol', `${this.where}: ${what}: the next page link loops back to ${nextUrl.pathname}${nextUrl.search}`);
      url = nextUrl;
    }
    return out;
  }

  /** A request with authentication: up-front when the scheme is known, else after the 401 tells it. */
  private async request(path: string | URL, o: { scope: string; method?: 'GET' | 'HEAD'; accept?: string; maxBytes: number }): Promise<HttpResponse> {
    const url = typeof path === 'string' ? new URL(this.settings.url + path) : path;
    const method = o.method ?? 'GET';
    const base: Record<string, string> = { 'user-agent': USER_AGENT, ...(o.accept ? { accept: o.accept } : {}) };
    let auth = await this.authorization(o.scope, false);
    let res = await this.follow(url, method, auth ? { ...base, authorization: auth } : base, o.maxBytes);
    if (res.status !== 401) return this.denied(res, o.scope);
    auth = await this.answer(res, o.scope, auth);
    res = await this.follow(url, method, { ...base, authorization: auth }, o.maxBytes);
    if (res.status === 401) {
      throw new RegistryError('auth', `${this.where}: ${this.scheme === 'basic' ? `authentication failed for user "${this.settings.username}": wrong username or password` : `the token for "${o.scope || 'the registry'}" was refused`} (HTTP 401)`, { status: 401 });
    }
    return this.denied(res, o.scope);
  }

  private denied(res: HttpResponse, scope: string): HttpResponse {
    if (res.status === 403) throw new RegistryError('auth', `${this.where}: access denied to ${scope || 'the registry'} (HTTP 403)${errorSuffix(res)}`, { status: 403 });
    return res;
  }

  /** Follow redirects (at most 5); a hop to another origin drops the Authorization header. */
  private async follow(start: URL, method: 'GET' | 'HEAD', headers: Record<string, string>, maxBytes: number, origin = this.settings.origin): Promise<HttpResponse> {
    let url = start;
    let h = headers;
    for (let hop = 0; ; hop++) {
      this.stats.requests++;
      const timeout = AbortSignal.timeout(this.settings.timeoutMs);
      const signal = this.opts.signal ? AbortSignal.any([timeout, this.opts.signal]) : timeout;
      let res: HttpResponse;
      try {
        // Error bodies are read too (a registry explains itself in them), up to a small cap.
        res = await send(url, { method, headers: h, signal, maxBytes: Math.max(maxBytes, MAX_ERROR_BYTES) }, this.agents);
      } catch (e) {
        if (e instanceof HttpTransportError) throw new RegistryError('unreachable', `${this.where}: ${e.message}`, { cause: e });
        throw e;
      }
      if (![301, 302, 303, 307, 308].includes(res.status)) return res;
      const location = header(res, 'location');
      if (!location) return res;
      if (hop >= MAX_REDIRECTS) throw new RegistryError('protocol', `${this.where}: more than ${MAX_REDIRECTS} redirects from ${start.pathname}`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new RegistryError('protocol', `${this.where}: a redirect to something that is not a URL`);
      }
      if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new RegistryError('protocol', `${this.where}: a redirect to ${next.protocol}`);
      if (url.protocol === 'https:' && next.protocol === 'http:' && !this.settings.insecure) throw new RegistryError('protocol', `${this.where}: refusing a redirect from HTTPS to plain HTTP (${displayUrl(next.href)})`);
      if (next.origin !== origin && 'authorization' in h) {
        const { authorization: _dropped, ...rest } = h;
        h = rest;
      }
      url = next;
    }
  }

  private basicHeader(): string {
    return 'Basic ' + Buffer.from(`${this.settings.username}:${this.settings.password ?? ''}`, 'utf8').toString('base64');
  }

  /** What to send before any 401: basic credentials, or a cached (or fresh) token for the scope. */
  private async authorization(scope: string, force: boolean): Promise<string | undefined> {
    if (this.scheme === 'basic') return this.basicHeader();
    if (this.scheme === 'bearer' && this.bearer) return 'Bearer ' + (await this.token(this.bearer.realm, this.bearer.service, scope, force));
    return undefined;
  }

  /** A 401's challenge → the Authorization to retry with; an AuthError when there is none to give. */
  private async answer(res: HttpResponse, scope: string, sent: string | undefined): Promise<string> {
    const raw = header(res, 'www-authenticate');
    if (!raw) throw new RegistryError('auth', `${this.where}: HTTP 401 without a WWW-Authenticate challenge`, { status: 401 });
    const challenges: AuthChallenge[] = wrapParse(this.where, () => parseWwwAuthenticate(raw));
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) {
      const realm = bearer.params.realm;
      if (!realm) throw new RegistryError('protocol', `${this.where}: a Bearer challenge without a realm`);
      this.scheme = 'bearer';
      this.bearer = { realm, ...(bearer.params.service !== undefined ? { service: bearer.params.service } : {}) };
      // The challenge's scope is the registry's word on what this request needs.
      return 'Bearer ' + (await this.token(realm, bearer.params.service, bearer.params.scope ?? scope, sent?.startsWith('Bearer ') ?? false));
    }
    if (basic) {
      if (!this.settings.username) throw new RegistryError('auth', `${this.where}: requires a username and password (HTTP 401, Basic realm ${JSON.stringify(basic.params.realm ?? '')})`, { status: 401 });
      if (sent?.startsWith('Basic ')) throw new RegistryError('auth', `${this.where}: authentication failed for user "${this.settings.username}": wrong username or password (HTTP 401)`, { status: 401 });
      this.scheme = 'basic';
      return this.basicHeader();
    }
    throw new RegistryError('auth', `${this.where}: no authentication scheme edgefleet knows in ${JSON.stringify(challenges.map((c) => c.scheme))}`, { status: 401 });
  }

  /** A bearer token for a scope: from the cache until it expires, else from the token endpoint. */
  private async token(realm: string, service: string | undefined, scope: string, force: boolean): Promise<string> {
    const s = this.settings;
    const key = JSON.stringify([s.url, s.username ?? '', s.password ? createHash('sha256').update(s.password).digest('hex') : '', realm, service ?? '', scope]);
    const cached = tokenCache.get(key);
    if (cached && !force && cached.expiresAtMs > this.now()) return cached.token;
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError('protocol', `${this.where}: the token realm is not a URL: ${JSON.stringify(realm.slice(0, 200))}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RegistryError('protocol', `${this.where}: the token realm must be http or https`);
    if (url.protocol === 'http:' && s.username && !s.insecure) throw new RegistryError('auth', `${this.where}: refusing to send credentials to a plain-HTTP token realm ${displayUrl(url.href)} (the registry is not marked insecure)`);
    if (service) url.searchParams.set('service', service);
    for (const one of scope.split(' ').filter(Boolean)) url.searchParams.append('scope', one);
    if (s.username) url.searchParams.set('account', s.username);
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: 'application/json', ...(s.username ? { authorization: this.basicHeader() } : {}) };
    this.stats.tokenRequests++;
    const started = this.now();
    const res = await this.follow(url, 'GET', headers, MAX_TOKEN_BYTES, url.origin);
    if (res.status === 401 || res.status === 403) {
      throw new RegistryError('auth', `${this.where}: the token endpoint ${displayUrl(url.href)} refused ${s.username ? `user "${s.username}": wrong username or password` : 'anonymous access: set a username and password'} (HTTP ${res.status})`, { status: res.status });
    }
    if (res.status !== 200) throw this.statusError(`GET token ${displayUrl(url.href)}`, res);
    const t = wrapParse(this.where, () => parseTokenResponse(res.body.toString('utf8')));
    // Renew a little before the end: 10 % of the lifetime, at most 10 s.
    const lifetimeMs = t.expiresInSeconds * 1000;
    tokenCache.set(key, { token: t.token, expiresAtMs: started + lifetimeMs - Math.min(10_000, lifetimeMs / 10) });
    return t.token;
  }

  private statusError(what: string, res: HttpResponse): RegistryError {
    const kind: RegistryErrorKind = res.status === 404 ? 'not-found' : [429, 502, 503, 504].includes(res.status) ? 'unreachable' : res.status >= 500 ? 'server' : 'protocol';
    return new RegistryError(kind, `${this.where}: ${what}: HTTP ${res.status}${errorSuffix(res)}`, { status: res.status });
  }
}

const repoScope = (repository: string) => `repository:${repository}:pull`;

function checkRepository(repository: string): void {
  if (!isRepositoryName(repository)) throw new RegistryError('protocol', `not a repository name: ${JSON.stringify(repository.slice(0, 300))}`);
}

function checkReference(reference: string): void {
  if (!isTag(reference) && !isDigest(reference)) throw new RegistryError('protocol', `not a tag or digest: ${JSON.stringify(reference.slice(0, 300))}`);
}

function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function errorSuffix(res: HttpResponse): string {
  const text = registryErrorText(res.body.toString('utf8'));
  return text ? ` (${text})` : '';
}

function digestOf(body: Buffer, like: string): string {
  const algorithm = like.startsWith('sha512:') ? 'sha512' : 'sha256';
  return `${algorithm}:${createHash(algorithm).update(body).digest('hex')}`;
}

function wrapParse<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ParseError) throw new RegistryError('protocol', `${where}: ${e.message}`, { cause: e });
    throw e;
  }
}
