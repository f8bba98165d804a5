import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import type { RegistryOptions } from '../registry/settings.js';
import { DEFAULT_DETECTOR_CONFIG, DETECTOR_NAME, DETECTORS } from '../detect/detector.js';
import { DEFAULT_STEP_SECONDS } from '../detect/steps.js';
import { METRIC_KINDS } from '../domain/readings.js';
import { bool, ConfigError, custom, envOf, int, Key, keysOf, list, num, oneOf, path, regex, Rejected, resolvePath, s3Bucket, seconds, shard, storeLocation, str, url, type ConfigOf, type Origin, type Section } from './schema.js';

export { ConfigError, envName } from './schema.js';

/**
 * edgefleet's configuration: defaults, then `edgefleet.yaml` (found by --config, EDGEFLEET_CONFIG,
 * or ./edgefleet.yaml), then EDGEFLEET_<KEY> environment variables, then command-line flags.
 * Every leaf key has an environment name: `collect.commandTimeoutSeconds` →
 * `EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS`. Paths in the file are relative to the file.
 *
 * One entry per key below: its default and what it allows (shared/config/schema.ts). A value
 * outside that range, from the file, the environment or a flag, is exit 1 naming the key, the
 * value and what is allowed. To add a key, add one line here; the type, the variable, the
 * `init` template and the checks follow.
 */
const home = process.env.HOME ?? '/root';

export const SCHEMA = {
  /** Ansible inventory: an INI or YAML file, or a directory of them. */
  inventory: path('inventory/local.ini'),
  /** The store: a SQLite database file, or a postgres:// URL (docs/postgres.md). */
  db: storeLocation('data/edgefleet.db'),
  store: {
    /** A postgres:// URL: wins over `db` when set (EDGEFLEET_STORE_URL). */
    url: storeLocation(''),
    /** PostgreSQL password when the URL has none (or `ssm:/path`); PGPASSWORD works too. Never logged. */
    password: custom('', 'a text', (raw) => (raw === null || raw === undefined ? '' : String(raw)), { secret: true }),
    /** PostgreSQL connections this process holds at most. */
    poolMax: int(8, 1, 1000),
    /** A PostgreSQL statement running longer is cancelled (milliseconds). */
    statementTimeoutMs: int(60_000, 100, 3_600_000, 'milliseconds'),
    /** `WAL` (default) or `DELETE` for a database on a network volume, where WAL is unsafe. */
    journalMode: oneOf('WAL', ['WAL', 'DELETE'] as const),
    busyTimeoutMs: int(5000, 0, 600_000, 'milliseconds'),
    /** Inventory vars stored as they are although their names say secret (shared/domain/secrets.ts); top-level names. */
    keepVars: list([]),
    /** Rounds kept in memory while the store refuses them (locked, disk full); the oldest is dropped beyond. */
    bufferMaxRounds: int(360, 1, 1_000_000),
    /** Bytes (their JSON size) those rounds may take at most. */
    bufferMaxBytes: int(64 * 1024 * 1024, 1024, 16 * 1024 * 1024 * 1024, 'bytes'),
  },
  collect: {
    /** `k/n`: collect only shard k of n of the inventory (stable by node name hash); `auto/n`: n shards shared by leases in the store; empty: all. */
    shard: shard(''),
    /** Which kinds collectAll runs. */
    kinds: list([...METRIC_KINDS], { items: METRIC_KINDS }),
    /** Nodes probed at once. */
    concurrency: int(64, 1, 4096),
    connectTimeoutSeconds: seconds(5, 600),
    commandTimeoutSeconds: seconds(10, 3600),
    // Output caps per node: real probes print 6-9 kB, a node with 5,000 interfaces and mounts
    // about 1.5 MB; 16 MiB is 10x that and bounds what one node costs the hub (docs/reliability.md).
    /** A node that prints more (stdout and stderr together) is cut off and marked `error`; nothing of it is kept. */
    maxOutputBytes: int(16 * 1024 * 1024, 4096, 1024 * 1024 * 1024, 'bytes'),
    /** Same in newlines: a flood of short lines passes the byte cap late. */
    maxOutputLines: int(200_000, 100, 100_000_000, 'lines'),
    /** A node whose df hung is bounded to this on the node until df answers (at most half of commandTimeoutSeconds). */
    dfTimeoutSeconds: seconds(3, 3600),
    /** SSH nodes run the probe in one long-lived `sh` per connection (no sshd session and shell start per round); false: a command of its own each round. */
    shellSession: bool(true),
    /** Mounts left out of storage (regular expressions); defaults leave out pseudo and overlay filesystems. */
    storageExcludeFsTypes: regex(''),
    storageExcludeMountPoints: regex(''),
    /** Interfaces left out of network. */
    networkExcludeInterfaces: regex('^lo$'),
    /** Block devices left out of diskio; empty: node_exporter's default (partitions, loop, RAM disks) plus SD/eMMC partitions. */
    diskExcludeDevices: regex(''),
    /** A node giving more series (rows) in one round is refused whole, like Prometheus' sample_limit (0: no limit). */
    maxSeriesPerNode: int(2000, 0, 10_000_000),
  },
  ssh: {
    /** OpenSSH known_hosts file the node host keys are checked against. */
    knownHostsFile: path(`${home}/.ssh/known_hosts`, { machineDefault: true }),
    /** Like StrictHostKeyChecking=accept-new: add unknown hosts' keys; a changed key is still refused. */
    acceptNewHostKeys: bool(false),
    /** Private key used when the inventory names none (ansible_ssh_private_key_file). */
    privateKeyFile: path(''),
    /** ssh-agent socket; empty for none. */
    agentSocket: str(process.env.SSH_AUTH_SOCK ?? '', { machineDefault: true }),
    /** Default remote user when the inventory names none (ansible_user). */
    user: str(process.env.USER ?? 'root', { nonEmpty: true, machineDefault: true }),
  },
  ssm: {
    /** AWS region of the SSM nodes that name none (ansible_aws_ssm_region); empty: the SDK's chain (AWS_REGION, the profile). */
    region: str(''),
    /** OutputS3BucketName: the agents also write each command's whole output there, read when it passes SSM's 24,000-character cut; empty: none. */
    outputS3Bucket: s3Bucket(''),
    /** OutputS3KeyPrefix under that bucket. */
    outputS3KeyPrefix: str('edgefleet'),
  },
  retention: {
    /** Days of raw samples kept (0: forever). Dashboards read rollups beyond a few hours. */
    rawDays: int(7, 0, 36_500, 'days'),
    /** Days of 1-minute rollups kept (0: forever). */
    rollup1mDays: int(30, 0, 36_500, 'days'),
    /** Days of 1-hour rollups kept (0: forever). */
    rollup1hDays: int(400, 0, 36_500, 'days'),
    /** Days of 6-hour rollups kept (0: forever). */
    rollup6hDays: int(0, 0, 36_500, 'days'),
    /** Days closed anomaly episodes are kept after they end (0: forever). */
    anomaliesDays: int(90, 0, 36_500, 'days'),
    /** Days of inferences kept (0: forever). */
    inferenceDays: int(30, 0, 36_500, 'days'),
    /** Days of finished deployments' events kept (0: forever). */
    deploymentEventsDays: int(90, 0, 36_500, 'days'),
    /** A vanished container's log cursor is dropped once it has not moved for this many days (0: never). */
    inferenceCursorDays: int(7, 0, 36_500, 'days'),
  },
  geocoder: {
    /** Nominatim server (its `/search` JSON API); the public one allows one request per second. */
    url: url('https://nominatim.openstreetmap.org'),
    /** User-Agent identifying edgefleet to the server (Nominatim refuses stock library agents). */
    userAgent: str('edgefleet/0.1.0 (edge fleet monitoring; node-geocoder)', { nonEmpty: true }),
    /** Contact e-mail sent with each request (Nominatim's `email` parameter); empty for none. */
    email: str(''),
    /** Milliseconds between requests (at least 1000 for the public Nominatim, whatever is set). */
    minIntervalMs: int(1000, 0, 3_600_000, 'milliseconds'),
    /** A request that takes longer is abandoned and retried later. */
    timeoutSeconds: seconds(10, 600),
    /** Addresses collectAll looks up per round at most (0: none); the daily geolocate handler does the rest. */
    perRoundLimit: int(1, 0, 10_000),
    /** Backoff after a failed lookup: retryBaseSeconds × 2^(attempts−1), at most retryMaxSeconds. */
    retryBaseSeconds: int(300, 1, 31_536_000, 'seconds'),
    retryMaxSeconds: int(86400, 1, 31_536_000, 'seconds'),
    /** Preferred languages of the place names (Accept-Language). */
    language: str('ko,en'),
  },
  models: {
    /** collectAll syncs the model catalog at most this often (0: every round); the collectModels schedule syncs it in full. */
    syncIntervalSeconds: int(300, 0, 31_536_000, 'seconds'),
    /** How long collectAll may spend on the catalog per round; what is left waits for the next sync. */
    perRoundSeconds: seconds(10, 3600),
    /** One registry HTTP request, connect to last byte. */
    timeoutSeconds: seconds(10, 3600),
    /** Entries asked for per catalog or tag-list page. */
    pageSize: int(100, 1, 10_000),
    /** Tags read at once per registry. */
    concurrency: int(4, 1, 256),
  },
  /** Container registries holding the lab's models (a list; one also by EDGEFLEET_REGISTRY_*). */
  registries: custom<RegistryConfig[]>([], 'a list of registries (name, url, …)', (raw, o) => registriesFrom(raw, o.where, o.base)),
  deploy: {
    /** Nodes deployed to at once (a request's options.concurrency may lower or raise it). */
    concurrency: int(8, 1, 1024),
    /** Seconds a new container must keep running before the previous one is stopped. */
    graceSeconds: num(5, { min: 0, max: 3600, unit: 'seconds' }),
    /** The engine's unix socket on a node without the edgefleet_engine_socket var. */
    engineSocket: str('/var/run/docker.sock', { nonEmpty: true }),
    /** A pull that takes longer is abandoned (the node fails, its old container keeps running). */
    pullTimeoutSeconds: seconds(1800, 86_400),
    /** Any other engine call (create, start, inspect, list). */
    engineTimeoutSeconds: seconds(60, 3600),
    /** Seconds the engine gives the previous container to stop before it kills it. */
    stopTimeoutSeconds: int(10, 0, 3600, 'seconds'),
    /** Host paths a deployment may bind-mount (that path or below); none by default (named volumes always). */
    allowedBindMounts: list([]),
    /** Allow a bind mount that holds a container engine's socket (root on the node). */
    allowEngineSocket: bool(false),
    /** Allow options.privileged. */
    allowPrivileged: bool(false),
    /** Allow options.pidMode: host. */
    allowHostPid: bool(false),
    /** Seconds a running deployment's lease lasts (renewed every third of it); expired: `interrupted`. */
    leaseSeconds: seconds(30, 3600),
    /** How long a deployment waits for another one of the same model on the same node to finish. */
    claimWaitSeconds: int(900, 0, 86_400, 'seconds'),
  },
  /**
   * Keys the HTTP routes take (Authorization: Bearer KEY or X-Api-Key). `keys` may do
   * everything (also EDGEFLEET_API_KEY); `readKeys` may only read (GET; also
   * EDGEFLEET_API_READ_KEY). Reads need one when the hub listens beyond loopback and under
   * serverless. At least 16 characters each; never logged.
   */
  api: {
    keys: custom<string[]>([], 'a list of keys of at least 16 characters', apiKeys('api.keys'), { env: 'EDGEFLEET_API_KEY', envAppends: true, secret: true }),
    readKeys: custom<string[]>([], 'a list of keys of at least 16 characters', apiKeys('api.readKeys'), { env: 'EDGEFLEET_API_READ_KEY', envAppends: true, secret: true }),
    /** Reads need no key from a hub on loopback; false when a reverse proxy on the same host exposes it. */
    openOnLoopback: bool(true),
  },
  detect: {
    /** The online detector (docs/anomalies.md): `likelihood-v8`, `likelihood-v7` (no profile drift on a quiet hub), `likelihood-v6` (no profile drift), `likelihood-v5` (nor a peak gate on the profile alarm) or `likelihood-v4` (no profile alarm); a change restarts every series' learning. */
    detector: oneOf(DETECTOR_NAME, Object.keys(DETECTORS) as (keyof typeof DETECTORS)[]),
    /** detectAnomalies scores the mean of each step of this many seconds per series (the detector was tuned on 5-minute data); 0: every raw sample. */
    stepSeconds: int(DEFAULT_STEP_SECONDS, 0, 86_400, 'seconds'),
    /** Quiet hub: a new extreme alarms only when it is also this many σ from what the series does at that hour (docs/anomalies.md); default 5 (likelihood-v8's), 0: off (the NAB setting). */
    recordProfileSigma: num(DEFAULT_DETECTOR_CONFIG.recordProfileSigma, { min: 0, max: 100, unit: 'σ of the hour' }),
  },
  /** Prometheus remote write (docs/prometheus.md); GET /metrics needs no configuration. */
  prometheus: {
    /** `job` label of remote-written series (a scrape's job comes from the scrape config). */
    job: str('edgefleet', { nonEmpty: true }),
    /** Endpoints every round is pushed to: [{url, name?, basicAuth: {username, password} | bearerToken, headers}]; checked by shared/prometheus/remoteWrite.ts. */
    remoteWrite: custom<unknown[]>([], 'a list of {url, name, basicAuth | bearerToken, headers}', (raw, o) => {
      if (raw === null || raw === undefined) return [];
      if (!Array.isArray(raw)) throw new ConfigError(`${o.where}: "prometheus.remoteWrite" must be a list of {url, basicAuth | bearerToken, headers}`);
      return raw;
    }),
    /** Samples per request at most (a round bigger than that is split). */
    maxSamplesPerSend: int(10_000, 1, 1_000_000),
    /** Samples the queue in the store holds at most; beyond, the oldest are dropped with a warning. */
    queueMaxSamples: int(2_000_000, 1, 1_000_000_000),
    /** One request, connect to response. */
    remoteWriteTimeoutSeconds: seconds(10, 600),
    /** How long a collection handler goes on sending after its round (the rest waits for the next). */
    flushSeconds: num(5, { min: 0, max: 3600, unit: 'seconds' }),
    /** Longest wait between retries (the backoff doubles from 0.25 s up to it; Retry-After wins). */
    retryMaxSeconds: seconds(30, 3600),
  },
  hub: {
    /** Seconds between collectAll rounds under `edgefleet hub` (may be below AWS's one minute). */
    intervalSeconds: num(10, { min: 1, max: 86_400, unit: 'seconds' }),
    /** Address and port the hub serves the HTTP routes on. */
    host: str('127.0.0.1', { nonEmpty: true }),
    port: int(8070, 1, 65_535),
    /** SIGTERM/SIGINT: the hub exits within this many seconds whatever its nodes and handlers do. */
    shutdownTimeoutSeconds: seconds(10, 3600),
  },
} satisfies Section;

export type Config = ConfigOf<typeof SCHEMA>;

/** One entry of `registries:` (shared/registry/settings.ts). The password is never logged nor stored. */
export type RegistryConfig = RegistryOptions;

/** Every key's default, as a Config. */
export const DEFAULT_CONFIG: Config = defaultsOf(SCHEMA) as Config;

const REGISTRY_KEYS = ['name', 'url', 'username', 'password', 'insecure', 'caFile', 'namespaces'] as const;

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
  const fromFile = new Set<string>();
  let base = cwd;
  if (file) {
    const at = resolve(cwd, file);
    base = dirname(at);
    readFile(at, config, fromFile);
  }
  for (const [key, rule] of keysOf(SCHEMA)) {
    // Defaults that are paths are relative to the file's folder too (data/edgefleet.db beside edgefleet.yaml).
    if (!fromFile.has(key) && rule.options.isPath) setKey(config, key, rule.parse(getKey(config, key), { base, where: key }));
    const name = envOf(key, rule);
    const raw = name === undefined ? undefined : env[name];
    if (raw === undefined || name === undefined) continue;
    // An empty variable for an appended list (EDGEFLEET_API_KEY=) adds nothing.
    if (rule.options.envAppends && raw === '') continue;
    const value = checked(rule, rule.options.envAppends ? [raw] : raw, { base: cwd, where: name }, { name, key, raw });
    setKey(config, key, rule.options.envAppends ? [...(getKey(config, key) as unknown[]), ...(value as unknown[])] : value);
  }
  config.registries = registryFromEnv(config.registries as RegistryConfig[], env, cwd);
  for (const [key, value] of Object.entries(sources.overrides ?? {})) {
    if (value === undefined) continue;
    const rule = ruleOf(key);
    if (!rule) throw new ConfigError(`unknown key "${key}"`);
    setKey(config, key, checked(rule, value, { base: cwd, where: key }));
  }
  return config as unknown as Config;
}

/** The rule of a dotted key, or undefined. */
export function ruleOf(key: string): Key<unknown> | undefined {
  const v = key.split('.').reduce<unknown>((o, k) => (o instanceof Key || o === undefined ? undefined : (o as Section)[k]), SCHEMA);
  return v instanceof Key ? v : undefined;
}

/**
 * A flag's value checked by its key's rule, before it becomes the key's variable: `--interval 0`
 * fails as `hub.intervalSeconds: 0` does.
 */
export function checkFlag(flag: string, key: string, raw: string): void {
  const rule = ruleOf(key);
  if (!rule) throw new Error(`BUG: flag ${flag} names no key ${key}`);
  checked(rule, raw, { base: process.cwd(), where: flag }, { name: flag, key, raw });
}

/** `rule.parse`, with a Rejected value turned into "WHERE: expected ALLOWED, got VALUE". */
function checked<T>(rule: Key<T>, raw: unknown, origin: Origin, named?: { name: string; key: string; raw: unknown }): T {
  try {
    return rule.parse(raw, origin);
  } catch (e) {
    if (!(e instanceof Rejected)) throw e;
    const where = named ? `${named.name} (${named.key})` : origin.where;
    throw new ConfigError(`${where}: expected ${e.message}, got ${rule.options.secret ? 'a value that is not' : show(named ? named.raw : raw)}`);
  }
}

const show = (raw: unknown) => (raw === null || raw === undefined ? 'nothing' : typeof raw === 'object' ? (Array.isArray(raw) ? 'a list' : 'a mapping') : JSON.stringify(raw));

/** The file's keys onto `config`, each by its rule; an unknown key or a bad value names file:line. */
function readFile(at: string, config: Record<string, unknown>, seen: Set<string>): void {
  let text: string;
  try {
    text = readFileSync(at, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(code === 'ENOENT' ? `${at}: no such configuration file (edgefleet init writes one)` : `${at}: ${(e as Error).message}`, { cause: e });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
  if (doc.errors.length) {
    const err = doc.errors[0]!;
    throw new ConfigError(`${at}:${err.linePos?.[0]?.line ?? 1}: not valid YAML: ${err.message.split('\n')[0]}`, { cause: err });
  }
  const root = doc.contents;
  if (root !== null && !isMap(root) && !(isScalar(root) && root.value === null)) throw new ConfigError(`${at}: expected a mapping of keys`);
  const where = (node: YamlNode | null | undefined) => `${at}:${node?.range ? lines.linePos(node.range[0]).line : 1}`;
  const walk = (map: YamlNode | null, section: Section, prefix: string, target: Record<string, unknown>) => {
    if (!isMap(map)) return;
    for (const pair of map.items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const key = prefix ? `${prefix}.${k}` : k;
      const keyNode = pair.key as YamlNode;
      const valueNode = pair.value as YamlNode | null;
      const rule = section[k];
      if (rule === undefined) throw new ConfigError(`${where(keyNode)}: unknown key "${key}"${suggest(k, Object.keys(section))}`);
      if (rule instanceof Key) {
        const raw = valueNode === null ? null : (valueNode as { toJSON(): unknown }).toJSON();
        target[k] = checked(rule, raw, { base: dirname(at), where: rule.options.ownMessages ? where(keyNode) : `${where(valueNode ?? keyNode)}: "${key}"` });
        seen.add(key);
      } else {
        if (valueNode !== null && !isMap(valueNode) && !(isScalar(valueNode) && valueNode.value === null)) throw new ConfigError(`${where(valueNode)}: "${key}" must be a mapping`);
        walk(valueNode, rule, key, target[k] as Record<string, unknown>);
      }
    }
  };
  walk(root as YamlNode | null, SCHEMA, '', config);
}

/** ` (did you mean "x"?)` when a known name is one or two edits away. */
function suggest(name: string, known: string[]): string {
  const near = known.map((k) => [k, distance(name.toLowerCase(), k.toLowerCase())] as const).filter(([, d]) => d <= 2).sort((a, b) => a[1] - b[1])[0];
  return near ? ` (did you mean "${near[0]}"?)` : '';
}

/** Levenshtein distance. */
export function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function defaultsOf(section: Section): Record<string, unknown> {
  return Object.fromEntries(Object.entries(section).map(([k, v]) => [k, v instanceof Key ? structuredClone(v.defaultValue) : defaultsOf(v)]));
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
      else if (k === 'insecure') entry.insecure = checked(bool(false), v, { base, where: `${where}.insecure"` });
      else (entry as unknown as Record<string, unknown>)[k] = checked(str(''), v, { base, where: `${where}.${k}"` });
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

/** `api.keys` from the file (where: file:line) or its variable (where: EDGEFLEET_API_KEY). */
function apiKeys(key: string): (raw: unknown, o: Origin) => string[] {
  return (raw, o) => (o.where.startsWith('EDGEFLEET_') ? apiKeysFrom(raw, 'environment', o.where) : apiKeysFrom(raw, o.where, key));
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
  if (v('INSECURE') !== undefined) entry.insecure = checked(bool(false), v('INSECURE'), { base: cwd, where: 'EDGEFLEET_REGISTRY_INSECURE' });
  if (v('CA_FILE') !== undefined) entry.caFile = resolvePath(v('CA_FILE')!, cwd);
  if (v('NAMESPACES') !== undefined) entry.namespaces = namespacesFrom(v('NAMESPACES'), 'EDGEFLEET_REGISTRY_NAMESPACES');
  if (!entry.url) throw new ConfigError(`EDGEFLEET_REGISTRY_URL is needed for registry "${name}"`);
  return old ? registries.map((r) => (r === old ? entry : r)) : [...registries, entry];
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
