import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { RegistryOptions } from '../registry/settings.js';
import { DEFAULT_STEP_SECONDS } from '../detect/steps.js';

/**
 * edgefleet's configuration: defaults, then `edgefleet.yaml` (found by --config, EDGEFLEET_CONFIG,
 * or ./edgefleet.yaml), then EDGEFLEET_<KEY> environment variables, then command-line flags.
 * Every leaf key has an environment name: `collect.commandTimeoutSeconds` →
 * `EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS`. Paths in the file are relative to the file.
 */
export interface Config {
  /** Ansible inventory file (INI or YAML). */
  inventory: string;
  /** SQLite database file. */
  db: string;
  store: {
    /** `WAL` (default) or `DELETE` for a database on a network volume, where WAL is unsafe. */
    journalMode: 'WAL' | 'DELETE';
    busyTimeoutMs: number;
    /** Inventory vars stored as they are although their names say secret (shared/domain/secrets.ts); top-level names. */
    keepVars: string[];
  };
  collect: {
    /** Which kinds collectAll runs. */
    kinds: string[];
    /** Nodes probed at once. */
    concurrency: number;
    connectTimeoutSeconds: number;
    commandTimeoutSeconds: number;
    /** Mounts left out of storage (regular expressions); defaults leave out pseudo and overlay filesystems. */
    storageExcludeFsTypes: string;
    storageExcludeMountPoints: string;
    /** Interfaces left out of network. */
    networkExcludeInterfaces: string;
  };
  ssh: {
    /** OpenSSH known_hosts file the node host keys are checked against. */
    knownHostsFile: string;
    /** Like StrictHostKeyChecking=accept-new: add unknown hosts' keys; a changed key is still refused. */
    acceptNewHostKeys: boolean;
    /** Private key used when the inventory names none (ansible_ssh_private_key_file). */
    privateKeyFile: string;
    /** ssh-agent socket; empty for none. */
    agentSocket: string;
    /** Default remote user when the inventory names none (ansible_user). */
    user: string;
  };
  retention: {
    /** Days of raw samples kept (0: forever). Dashboards read rollups beyond a few hours. */
    rawDays: number;
    /** Days of 1-minute rollups kept (0: forever). */
    rollup1mDays: number;
    /** Days of 1-hour rollups kept (0: forever). */
    rollup1hDays: number;
    /** Days of 6-hour rollups kept (0: forever). */
    rollup6hDays: number;
  };
  geocoder: {
    /** Nominatim server (its `/search` JSON API); the public one allows one request per second. */
    url: string;
    /** User-Agent identifying edgefleet to the server (Nominatim refuses stock library agents). */
    userAgent: string;
    /** Contact e-mail sent with each request (Nominatim's `email` parameter); empty for none. */
    email: string;
    /** Milliseconds between requests (at least 1000 for the public Nominatim, whatever is set). */
    minIntervalMs: number;
    /** A request that takes longer is abandoned and retried later. */
    timeoutSeconds: number;
    /** Addresses collectAll looks up per round at most (0: none); the daily geolocate handler does the rest. */
    perRoundLimit: number;
    /** Backoff after a failed lookup: retryBaseSeconds × 2^(attempts−1), at most retryMaxSeconds. */
    retryBaseSeconds: number;
    retryMaxSeconds: number;
    /** Preferred languages of the place names (Accept-Language). */
    language: string;
  };
  models: {
    /** collectAll syncs the model catalog at most this often (0: every round); the collectModels schedule syncs it in full. */
    syncIntervalSeconds: number;
    /** How long collectAll may spend on the catalog per round; what is left waits for the next sync. */
    perRoundSeconds: number;
    /** One registry HTTP request, connect to last byte. */
    timeoutSeconds: number;
    /** Entries asked for per catalog or tag-list page. */
    pageSize: number;
    /** Tags read at once per registry. */
    concurrency: number;
  };
  /** Container registries holding the lab's models (a list; one also by EDGEFLEET_REGISTRY_*). */
  registries: RegistryConfig[];
  deploy: {
    /** Nodes deployed to at once (a request's options.concurrency may lower or raise it). */
    concurrency: number;
    /** Seconds a new container must keep running before the previous one is stopped. */
    graceSeconds: number;
    /** The engine's unix socket on a node without the edgefleet_engine_socket var. */
    engineSocket: string;
    /** A pull that takes longer is abandoned (the node fails, its old container keeps running). */
    pullTimeoutSeconds: number;
    /** Any other engine call (create, start, inspect, list). */
    engineTimeoutSeconds: number;
    /** Seconds the engine gives the previous container to stop before it kills it. */
    stopTimeoutSeconds: number;
  };
  /**
   * Keys the HTTP routes take (Authorization: Bearer KEY or X-Api-Key). `keys` may do
   * everything (also EDGEFLEET_API_KEY); `readKeys` may only read (GET; also
   * EDGEFLEET_API_READ_KEY). Reads need one when the hub listens beyond loopback and under
   * serverless. At least 16 characters each; never logged.
   */
  api: {
    keys: string[];
    readKeys: string[];
  };
  detect: {
    /** detectAnomalies scores the mean of each step of this many seconds per series (the detector was tuned on 5-minute data); 0: every raw sample. */
    stepSeconds: number;
  };
  hub: {
    /** Seconds between collectAll rounds under `edgefleet hub` (may be below AWS's one minute). */
    intervalSeconds: number;
    /** Address and port the hub serves the HTTP routes on. */
    host: string;
    port: number;
    /** SIGTERM/SIGINT: the hub exits within this many seconds whatever its nodes and handlers do. */
    shutdownTimeoutSeconds: number;
  };
}

/** One entry of `registries:` (shared/registry/settings.ts). The password is never logged nor stored. */
export type RegistryConfig = RegistryOptions;

const home = process.env.HOME ?? '/root';

export const DEFAULT_CONFIG: Config = {
  inventory: 'inventory/local.ini',
  db: 'data/edgefleet.db',
  store: { journalMode: 'WAL', busyTimeoutMs: 5000, keepVars: [] },
  collect: {
    kinds: ['temperature', 'cpu', 'memory', 'storage', 'network'],
    concurrency: 64,
    connectTimeoutSeconds: 5,
    commandTimeoutSeconds: 10,
    storageExcludeFsTypes: '',
    storageExcludeMountPoints: '',
    networkExcludeInterfaces: '^lo$',
  },
  ssh: {
    knownHostsFile: `${home}/.ssh/known_hosts`,
    acceptNewHostKeys: false,
    privateKeyFile: '',
    agentSocket: process.env.SSH_AUTH_SOCK ?? '',
    user: process.env.USER ?? 'root',
  },
  retention: { rawDays: 7, rollup1mDays: 30, rollup1hDays: 400, rollup6hDays: 0 },
  geocoder: {
    url: 'https://nominatim.openstreetmap.org',
    userAgent: 'edgefleet/0.1.0 (edge fleet monitoring; node-geocoder)',
    email: '',
    minIntervalMs: 1000,
    timeoutSeconds: 10,
    perRoundLimit: 1,
    retryBaseSeconds: 300,
    retryMaxSeconds: 86400,
    language: 'ko,en',
  },
  models: { syncIntervalSeconds: 300, perRoundSeconds: 10, timeoutSeconds: 10, pageSize: 100, concurrency: 4 },
  registries: [],
  deploy: { concurrency: 8, graceSeconds: 5, engineSocket: '/var/run/docker.sock', pullTimeoutSeconds: 1800, engineTimeoutSeconds: 60, stopTimeoutSeconds: 10 },
  api: { keys: [], readKeys: [] },
  detect: { stepSeconds: DEFAULT_STEP_SECONDS },
  hub: { intervalSeconds: 10, host: '127.0.0.1', port: 8070, shutdownTimeoutSeconds: 10 },
};

/** Keys that are not scalars and have their own reader (and no EDGEFLEET_<KEY> variable). */
export const LIST_KEYS = ['registries', 'api.keys', 'api.readKeys', 'store.keepVars'];
const REGISTRY_KEYS = ['name', 'url', 'username', 'password', 'insecure', 'caFile', 'namespaces'] as const;

/** Keys that hold a file path: resolved against the config file's folder. */
const PATH_KEYS = ['inventory', 'db', 'ssh.knownHostsFile', 'ssh.privateKeyFile'];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface ConfigSources {
  /** --config; else EDGEFLEET_CONFIG; else ./edgefleet.yaml when present. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Flags, as dotted keys: { inventory: 'x.ini', db: 'y.db' }. Win over everything. */
  overrides?: Record<string, unknown>;
  cwd?: string;
}

export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env;
  const cwd = sources.cwd ?? process.cwd();
  const config = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, unknown>;

  const file = sources.file ?? env.EDGEFLEET_CONFIG ?? (existsSync(resolve(cwd, 'edgefleet.yaml')) ? 'edgefleet.yaml' : undefined);
  let base = cwd;
  if (file) {
    const path = resolve(cwd, file);
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new ConfigError(`${path}: ${(e as Error).message}`, { cause: e });
    }
    if (parsed != null && (typeof parsed !== 'object' || Array.isArray(parsed))) throw new ConfigError(`${path}: expected a mapping of keys`);
    const { registries, ...rest } = (parsed ?? {}) as Record<string, unknown>;
    merge(config, rest, path, '');
    base = dirname(path);
    config.registries = registriesFrom(registries, path, base);
  }
  for (const key of PATH_KEYS) setKey(config, key, resolvePath(getKey(config, key), base));

  for (const [key, value] of leaves(DEFAULT_CONFIG as unknown as Record<string, unknown>)) {
    if (LIST_KEYS.includes(key)) continue;
    const name = envName(key);
    const raw = env[name];
    if (raw === undefined) continue;
    const typed = coerce(raw, value, name);
    setKey(config, key, PATH_KEYS.includes(key) ? resolvePath(typed, cwd) : typed);
  }
  config.registries = registryFromEnv(config.registries as RegistryConfig[], env, cwd);
  const where = file ? resolve(cwd, file) : 'configuration';
  const api = config.api as { keys: unknown; readKeys: unknown };
  api.keys = [...apiKeysFrom(api.keys, where, 'api.keys'), ...apiKeysFrom(env.EDGEFLEET_API_KEY ? [env.EDGEFLEET_API_KEY] : [], 'environment', 'EDGEFLEET_API_KEY')];
  api.readKeys = [...apiKeysFrom(api.readKeys, where, 'api.readKeys'), ...apiKeysFrom(env.EDGEFLEET_API_READ_KEY ? [env.EDGEFLEET_API_READ_KEY] : [], 'environment', 'EDGEFLEET_API_READ_KEY')];
  const store = config.store as { keepVars: unknown };
  if (env.EDGEFLEET_STORE_KEEP_VARS !== undefined) store.keepVars = env.EDGEFLEET_STORE_KEEP_VARS.split(',').map((s) => s.trim()).filter(Boolean);
  if (!Array.isArray(store.keepVars) || !store.keepVars.every((s) => typeof s === 'string')) throw new ConfigError(`${where}: "store.keepVars" must be a list of var names`);
  for (const [key, value] of Object.entries(sources.overrides ?? {})) {
    if (value === undefined) continue;
    setKey(config, key, PATH_KEYS.includes(key) ? resolvePath(value, cwd) : value);
  }
  return config as unknown as Config;
}

/** `registries:` from the file: a list of mappings with known keys; caFile relative to the file. */
function registriesFrom(raw: unknown, file: string, base: string): RegistryConfig[] {
  if (raw == null) return [];
  if (!Array.isArray(raw)) throw new ConfigError(`${file}: "registries" must be a list`);
  const out = raw.map((r, i) => {
    const where = `${file}: "registries[${i}]`;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new ConfigError(`${where}" must be a mapping`);
    const entry: RegistryConfig = { name: '', url: '', username: '', password: '', insecure: false, caFile: '', namespaces: [] };
    for (const [k, v] of Object.entries(r as Record<string, unknown>)) {
      if (!(REGISTRY_KEYS as readonly string[]).includes(k)) throw new ConfigError(`${where}": unknown key "${k}" (known: ${REGISTRY_KEYS.join(', ')})`);
      if (k === 'namespaces') entry.namespaces = namespacesFrom(v, `${where}.namespaces"`);
      else if (k === 'insecure') entry.insecure = coerce(v, false, `${where}.insecure"`) as boolean;
      else (entry as unknown as Record<string, unknown>)[k] = coerce(v, '', `${where}.${k}"`);
    }
    if (!entry.name) throw new ConfigError(`${where}": a name is needed`);
    if (!entry.url) throw new ConfigError(`${where}": a url is needed`);
    entry.caFile = resolvePath(entry.caFile, base);
    return entry;
  });
  const names = out.map((r) => r.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new ConfigError(`${file}: two registries named "${dup}"`);
  return out;
}

/** `api.keys`, `api.readKeys` and their variables: lists of strings of at least 16 characters (they guard deployments and the fleet's data). */
function apiKeysFrom(raw: unknown, file: string, key: string): string[] {
  if (raw == null) return [];
  if (!Array.isArray(raw) || !raw.every((k) => typeof k === 'string')) throw new ConfigError(`${file}: "${key}" must be a list of strings`);
  // The key itself is never quoted in an error.
  raw.forEach((k: string, i) => {
    const name = key.startsWith('EDGEFLEET_') ? key : `${key}[${i}]`;
    if (k.length < 16) throw new ConfigError(`${file}: "${name}" is too short (at least 16 characters)`);
  });
  return [...raw];
}

function namespacesFrom(v: unknown, where: string): string[] {
  if (v == null) return [];
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.map((x) => x.trim()).filter(Boolean);
  throw new ConfigError(`${where}: expected a list of namespaces`);
}

/**
 * One registry from EDGEFLEET_REGISTRY_URL, _USERNAME, _PASSWORD, _INSECURE, _CA_FILE,
 * _NAMESPACES (and _NAME, default `default`, or the file's only registry): it overrides the
 * file's registry of that name, or is added.
 */
function registryFromEnv(registries: RegistryConfig[], env: NodeJS.ProcessEnv, cwd: string): RegistryConfig[] {
  const v = (k: string) => env[`EDGEFLEET_REGISTRY_${k}`];
  const keys = ['NAME', 'URL', 'USERNAME', 'PASSWORD', 'INSECURE', 'CA_FILE', 'NAMESPACES'];
  if (keys.every((k) => v(k) === undefined)) return registries;
  const name = v('NAME') || (registries.length === 1 ? registries[0]!.name : 'default');
  const old = registries.find((r) => r.name === name);
  const entry: RegistryConfig = old ? { ...old } : { name, url: '', username: '', password: '', insecure: false, caFile: '', namespaces: [] };
  if (v('URL') !== undefined) entry.url = v('URL')!;
  if (v('USERNAME') !== undefined) entry.username = v('USERNAME')!;
  if (v('PASSWORD') !== undefined) entry.password = v('PASSWORD')!;
  if (v('INSECURE') !== undefined) entry.insecure = coerce(v('INSECURE'), false, 'EDGEFLEET_REGISTRY_INSECURE') as boolean;
  if (v('CA_FILE') !== undefined) entry.caFile = resolvePath(v('CA_FILE'), cwd);
  if (v('NAMESPACES') !== undefined) entry.namespaces = namespacesFrom(v('NAMESPACES'), 'EDGEFLEET_REGISTRY_NAMESPACES');
  if (!entry.url) throw new ConfigError(`EDGEFLEET_REGISTRY_URL is needed for registry "${name}"`);
  return old ? registries.map((r) => (r === old ? entry : r)) : [...registries, entry];
}

/** `collect.commandTimeoutSeconds` → `EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS`. */
export function envName(key: string): string {
  return 'EDGEFLEET_' + key.split('.').map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

export function* leaves(obj: Record<string, unknown>, prefix = ''): Generator<[string, unknown]> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) yield* leaves(v as Record<string, unknown>, key);
    else yield [key, v];
  }
}

function merge(target: Record<string, unknown>, source: Record<string, unknown>, file: string, prefix: string): void {
  for (const [k, v] of Object.entries(source)) {
    const key = prefix ? `${prefix}.${k}` : k;
    const current = target[k];
    if (current === undefined) throw new ConfigError(`${file}: unknown key "${key}"`);
    if (current !== null && typeof current === 'object' && !Array.isArray(current)) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${file}: "${key}" must be a mapping`);
      merge(current as Record<string, unknown>, v as Record<string, unknown>, file, key);
    } else {
      target[k] = typeof current === 'string' || typeof current === 'number' || typeof current === 'boolean' ? coerce(v, current, `${file}: "${key}"`) : v;
    }
  }
}

function coerce(raw: unknown, like: unknown, where: string): unknown {
  if (typeof like === 'number') {
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (typeof raw === 'boolean' || raw === '' || !Number.isFinite(n)) throw new ConfigError(`${where}: expected a number, got ${JSON.stringify(raw)}`);
    return n;
  }
  if (typeof like === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const s = String(raw).toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
    throw new ConfigError(`${where}: expected true or false, got ${JSON.stringify(raw)}`);
  }
  if (Array.isArray(like)) return typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : raw;
  if (typeof raw === 'object' && raw !== null) throw new ConfigError(`${where}: expected a value, got a mapping`);
  return raw == null ? '' : String(raw);
}

function resolvePath(value: unknown, base: string): string {
  const s = String(value ?? '');
  if (s === '') return s;
  if (s === '~' || s.startsWith('~/')) return home + s.slice(1);
  return resolve(base, s);
}

function getKey(obj: Record<string, unknown>, key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], obj);
}

function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let o = obj;
  for (const p of parts.slice(0, -1)) o = o[p] as Record<string, unknown>;
  o[parts.at(-1)!] = value;
}
