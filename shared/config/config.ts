import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

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
  hub: {
    /** Seconds between collectAll rounds under `edgefleet hub` (may be below AWS's one minute). */
    intervalSeconds: number;
    /** Address and port the hub serves the HTTP routes on. */
    host: string;
    port: number;
  };
}

const home = process.env.HOME ?? '/root';

export const DEFAULT_CONFIG: Config = {
  inventory: 'inventory/local.ini',
  db: 'data/edgefleet.db',
  store: { journalMode: 'WAL', busyTimeoutMs: 5000 },
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
  hub: { intervalSeconds: 10, host: '127.0.0.1', port: 8070 },
};

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
    merge(config, (parsed ?? {}) as Record<string, unknown>, path, '');
    base = dirname(path);
  }
  for (const key of PATH_KEYS) setKey(config, key, resolvePath(getKey(config, key), base));

  for (const [key, value] of leaves(DEFAULT_CONFIG as unknown as Record<string, unknown>)) {
    const name = envName(key);
    const raw = env[name];
    if (raw === undefined) continue;
    const typed = coerce(raw, value, name);
    setKey(config, key, PATH_KEYS.includes(key) ? resolvePath(typed, cwd) : typed);
  }
  for (const [key, value] of Object.entries(sources.overrides ?? {})) {
    if (value === undefined) continue;
    setKey(config, key, PATH_KEYS.includes(key) ? resolvePath(value, cwd) : value);
  }
  return config as unknown as Config;
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
