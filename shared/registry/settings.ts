import { readFileSync } from 'node:fs';

/** One entry of `registries:` in the configuration (or EDGEFLEET_REGISTRY_*). */
export interface RegistryOptions {
  /** Short name, the key of its models in the store: `lab`, `hub-cache`. */
  name: string;
  /** `https://registry.lab:5000`; without a scheme https, or http when `insecure`. */
  url: string;
  /** Empty for anonymous access. */
  username: string;
  password: string;
  /** Plain HTTP allowed, and TLS certificates not verified. */
  insecure: boolean;
  /** PEM file of the CA that signed the registry's certificate (added to the system ones). */
  caFile: string;
  /** Only repositories in these namespaces (`lab` covers `lab/yolo`); empty for all. */
  namespaces: string[];
}

/** Checked settings: what the client uses. Never logged whole (it holds the password). */
export interface RegistrySettings {
  name: string;
  /** Base URL without a trailing slash; `/v2/…` is appended. */
  url: string;
  /** Scheme, host and port. */
  origin: string;
  username?: string;
  password?: string;
  insecure: boolean;
  /** The CA's PEM, when caFile is set. */
  ca?: Buffer;
  namespaces: string[];
  /** One HTTP request (connect to last byte). */
  timeoutMs: number;
  /** Entries asked for per catalog or tag-list page (`?n=`). */
  pageSize: number;
}

export class RegistryConfigError extends Error {
  override name = 'RegistryConfigError';
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const NAMESPACE = /^[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*$/;

/** The URL as logs and errors show it: scheme, host, port and path, never credentials. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return '<invalid url>';
  }
}

export function registrySettings(o: RegistryOptions, limits: { timeoutSeconds: number; pageSize: number }): RegistrySettings {
  const where = `registry "${o.name}"`;
  if (!NAME.test(o.name)) throw new RegistryConfigError(`registries: name ${JSON.stringify(o.name)} must be letters, digits, _ . - (at most 64)`);
  const raw = o.url.trim();
  if (!raw) throw new RegistryConfigError(`${where}: url is empty`);
  let u: URL;
  try {
    u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `${o.insecure ? 'http' : 'https'}://${raw}`);
  } catch {
    throw new RegistryConfigError(`${where}: url is not a URL: ${JSON.stringify(displayUrl(raw))}`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new RegistryConfigError(`${where}: url must be http or https, got ${u.protocol}`);
  if (u.protocol === 'http:' && !o.insecure) throw new RegistryConfigError(`${where}: ${displayUrl(u.href)} is plain HTTP: set insecure: true for this registry (EDGEFLEET_REGISTRY_INSECURE=true) to allow it`);
  if (u.username || u.password) throw new RegistryConfigError(`${where}: credentials in the URL are not supported: use username and password`);
  if (u.search || u.hash) throw new RegistryConfigError(`${where}: url must be the registry's base URL, without a query`);
  if (o.password && !o.username) throw new RegistryConfigError(`${where}: a password without a username`);
  for (const ns of o.namespaces) if (!NAMESPACE.test(ns)) throw new RegistryConfigError(`${where}: namespace ${JSON.stringify(ns)} is not a repository path`);
  if (!(o.namespaces.length <= 100)) throw new RegistryConfigError(`${where}: at most 100 namespaces`);
  let ca: Buffer | undefined;
  if (o.caFile) {
    try {
      ca = readFileSync(o.caFile);
    } catch (e) {
      throw new RegistryConfigError(`${where}: caFile ${o.caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    }
    if (!ca.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) throw new RegistryConfigError(`${where}: caFile ${o.caFile} holds no PEM certificate`);
  }
  if (!(limits.timeoutSeconds > 0)) throw new RegistryConfigError(`models.timeoutSeconds must be > 0, got ${limits.timeoutSeconds}`);
  if (!(Number.isInteger(limits.pageSize) && limits.pageSize >= 1 && limits.pageSize <= 10000)) throw new RegistryConfigError(`models.pageSize must be a whole number 1–10000, got ${limits.pageSize}`);
  const url = `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  return {
    name: o.name,
    url,
    origin: u.origin,
    ...(o.username ? { username: o.username, password: o.password } : {}),
    insecure: o.insecure,
    ...(ca ? { ca } : {}),
    namespaces: [...o.namespaces],
    timeoutMs: limits.timeoutSeconds * 1000,
    pageSize: limits.pageSize,
  };
}

/** Is `repository` in one of the namespaces (all when there are none)? */
export function inNamespaces(repository: string, namespaces: readonly string[]): boolean {
  return namespaces.length === 0 || namespaces.some((ns) => repository === ns || repository.startsWith(ns + '/'));
}
