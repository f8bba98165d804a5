/**
 * The building blocks of edgefleet's configuration schema (shared/config/config.ts): one rule
 * per key says its default, its type, the values it allows, and how a raw value from the file
 * (YAML), an EDGEFLEET_* variable or a flag (both strings) becomes that type. The file, the
 * environment and the flags all go through the same rule, so `hub.intervalSeconds: 0`,
 * `EDGEFLEET_HUB_INTERVAL_SECONDS=0` and `--interval 0` fail alike, naming the key, the value
 * and what is allowed.
 *
 * Hand-written rather than zod: the loader needs, per key, an environment name, path resolution
 * against the file's folder, string coercion with the same rules as the file, and messages in
 * the user's words; with zod those would be a walker of our own around it anyway.
 */
import { resolve } from 'node:path';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Where a raw value came from: `base` is the folder relative paths resolve against. */
export interface Origin {
  base: string;
  /** The file, or `EDGEFLEET_X`, or `--flag`: for messages of a key with its own reader. */
  where: string;
}

/** A value outside what a key allows: the message is "expected <allowed>". */
export class Rejected extends Error {}

export class Key<T> {
  constructor(
    readonly defaultValue: T,
    /** What is allowed, in words: "a whole number from 1 to 4096". */
    readonly allowed: string,
    /** Raw (YAML value, or a string from the environment or a flag) → the typed value; throws Rejected. */
    readonly parse: (raw: unknown, origin: Origin) => T,
    readonly options: {
      /** The EDGEFLEET_* variable, when it is not envName(key); false: none. */
      env?: string | false;
      /** The variable's value is added to the file's list instead of replacing it. */
      envAppends?: boolean;
      /** Never quoted in an error. */
      secret?: boolean;
      /** A file path: a default is resolved against the config file's folder too. */
      isPath?: boolean;
      /** parse names the key itself (custom readers): the origin's `where` is only the file:line or variable. */
      ownMessages?: boolean;
      /** The default depends on the machine (home, user): the template leaves it commented out. */
      machineDefault?: boolean;
    } = {},
  ) {}
}

/** A section: keys and sub-sections. */
export interface Section {
  [name: string]: Key<unknown> | Section;
}

/** The configuration type a schema describes. */
export type ConfigOf<S> = { -readonly [K in keyof S]: S[K] extends Key<infer T> ? T : ConfigOf<S[K]> };

const HOME = process.env.HOME ?? '/root';

const numberOf = (raw: unknown): number => {
  if (typeof raw === 'number') return raw;
  if (typeof raw !== 'string' || raw.trim() === '') return NaN;
  return Number(raw);
};

/** A number in [min, max]; `above` makes min exclusive (timeouts: above 0); `whole` integers only. */
export function num(defaultValue: number, o: { min: number; max: number; whole?: boolean; above?: boolean; unit?: string }): Key<number> {
  const what = o.whole ? 'a whole number' : 'a number';
  const range = o.above ? `above ${o.min} and at most ${o.max}` : `from ${o.min} to ${o.max}`;
  const allowed = `${what} ${range}${o.unit ? ` (${o.unit})` : ''}`;
  return new Key(defaultValue, allowed, (raw) => {
    const n = numberOf(raw);
    const ok = Number.isFinite(n) && (o.above ? n > o.min : n >= o.min) && n <= o.max && (!o.whole || Number.isInteger(n));
    if (!ok) throw new Rejected(allowed);
    return n;
  });
}

/** A whole number from min to max. */
export const int = (defaultValue: number, min: number, max: number, unit?: string): Key<number> => num(defaultValue, { min, max, whole: true, ...(unit ? { unit } : {}) });

/** Seconds above 0 (a deadline of 0 would fire at once), at most max. */
export const seconds = (defaultValue: number, max: number): Key<number> => num(defaultValue, { min: 0, max, above: true, unit: 'seconds' });

export function bool(defaultValue: boolean): Key<boolean> {
  const allowed = 'true or false';
  return new Key(defaultValue, allowed, (raw) => {
    if (typeof raw === 'boolean') return raw;
    const s = typeof raw === 'string' ? raw.toLowerCase() : undefined;
    if (s !== undefined && ['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (s !== undefined && ['0', 'false', 'no', 'off', ''].includes(s)) return false;
    throw new Rejected(allowed);
  });
}

/** Text; `nonEmpty` for keys that cannot work empty (a host name, a User-Agent). */
export function str(defaultValue: string, o: { nonEmpty?: boolean; machineDefault?: boolean } = {}): Key<string> {
  const allowed = o.nonEmpty ? 'a non-empty text' : 'a text';
  return new Key(
    defaultValue,
    allowed,
    (raw) => {
      if (raw === null || raw === undefined) raw = '';
      if (typeof raw === 'object') throw new Rejected(allowed);
      const s = String(raw);
      if (o.nonEmpty && s.trim() === '') throw new Rejected(allowed);
      return s;
    },
    o.machineDefault ? { machineDefault: true } : {},
  );
}

/** One of a fixed set of words. */
export function oneOf<const V extends string>(defaultValue: V, values: readonly V[]): Key<V> {
  const allowed = `one of ${values.join(', ')}`;
  return new Key(defaultValue, allowed, (raw) => {
    if (typeof raw !== 'string' || !(values as readonly string[]).includes(raw)) throw new Rejected(allowed);
    return raw as V;
  });
}

/** A file path: relative to the config file's folder (file) or the working folder (environment, flags); `~/` is home. */
export function path(defaultValue: string, o: { machineDefault?: boolean } = {}): Key<string> {
  const allowed = 'a file path';
  return new Key(
    defaultValue,
    allowed,
    (raw, origin) => {
      if (raw === null || raw === undefined) return '';
      if (typeof raw === 'object') throw new Rejected(allowed);
      return resolvePath(String(raw), origin.base);
    },
    { isPath: true, ...(o.machineDefault ? { machineDefault: true } : {}) },
  );
}

/** An S3 bucket name as S3 accepts it (3 to 63 lowercase letters, digits, dots, hyphens); empty: none. */
export function s3Bucket(defaultValue: string): Key<string> {
  const allowed = 'an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit), or empty';
  return new Key(defaultValue, allowed, (raw) => {
    if (raw === null || raw === undefined) return '';
    if (typeof raw === 'object') throw new Rejected(allowed);
    const s = String(raw);
    if (s !== '' && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(s)) throw new Rejected(allowed);
    return s;
  });
}

/**
 * The store: a SQLite file path, or a PostgreSQL URL (postgres:// or postgresql://). A URL is
 * checked here, so a typo fails at start-up naming the key; a password in it is never quoted.
 */
export function storeLocation(defaultValue: string): Key<string> {
  const allowed = 'a file path or a postgres://user@host:port/database URL';
  return new Key(
    defaultValue,
    allowed,
    (raw, origin) => {
      if (raw === null || raw === undefined) return '';
      if (typeof raw === 'object') throw new Rejected(allowed);
      const s = String(raw);
      if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return resolvePath(s, origin.base);
      checkPostgresUrl(s);
      return s;
    },
    // secret: a URL may carry the password, so an error never quotes the value.
    { isPath: true, secret: true },
  );
}

/** A postgres:// URL's problems, in words (never with its password); Rejected when it is not one. */
export function checkPostgresUrl(s: string): void {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Rejected('a file path or a postgres://user@host:port/database URL (this one does not parse)');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Rejected(`a file path or a postgres:// URL (${u.protocol}// is not a store edgefleet knows)`);
  if (!u.hostname && !u.searchParams.get('host')) throw new Rejected('a postgres:// URL with a host (postgres://user@host:5432/edgefleet, or ?host=/socket/dir)');
  if (u.port && !(Number(u.port) >= 1 && Number(u.port) <= 65535)) throw new Rejected('a postgres:// URL with a port from 1 to 65535');
  if (!u.pathname || u.pathname === '/') throw new Rejected('a postgres:// URL naming its database (postgres://user@host:5432/edgefleet)');
}

/** `k/n`: this process collects shard k of n (1 ≤ k ≤ n); empty: every node. */
export function shard(defaultValue: string): Key<string> {
  const allowed = 'k/n with 1 ≤ k ≤ n (this hub collects shard k of n), auto/n (n shards taken by leases in the store), or empty';
  return new Key(defaultValue, allowed, (raw) => {
    if (raw === null || raw === undefined || raw === '') return '';
    if (typeof raw !== 'string') throw new Rejected(allowed);
    if (/^auto\/[1-9][0-9]{0,3}$/.test(raw)) return raw;
    const m = /^([1-9][0-9]{0,3})\/([1-9][0-9]{0,3})$/.exec(raw.trim());
    if (!m || Number(m[1]) > Number(m[2])) throw new Rejected(allowed);
    return `${Number(m[1])}/${Number(m[2])}`;
  });
}

/** A regular expression (empty: none); one that does not compile is refused now, not at the first round. */
export function regex(defaultValue: string): Key<string> {
  const allowed = 'a regular expression';
  return new Key(defaultValue, allowed, (raw) => {
    if (raw === null || raw === undefined) return '';
    if (typeof raw === 'object') throw new Rejected(allowed);
    const s = String(raw);
    try {
      new RegExp(s);
    } catch {
      throw new Rejected(allowed);
    }
    return s;
  });
}

/** An http(s) URL. */
export function url(defaultValue: string): Key<string> {
  const allowed = 'an http:// or https:// URL';
  return new Key(defaultValue, allowed, (raw) => {
    if (typeof raw !== 'string') throw new Rejected(allowed);
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new Rejected(allowed);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Rejected(allowed);
    return raw;
  });
}

/**
 * A list of texts: a YAML list, or comma-separated in the environment. `items` limits the
 * entries to a set; `minLength` each entry's length.
 */
export function list(defaultValue: string[], o: { items?: readonly string[]; minLength?: number; env?: string | false; envAppends?: boolean; secret?: boolean } = {}): Key<string[]> {
  const allowed = o.items ? `a list of ${o.items.join(', ')}` : o.minLength ? `a list of texts of at least ${o.minLength} characters` : 'a list of texts';
  return new Key(
    defaultValue,
    allowed,
    (raw) => {
      if (raw === null || raw === undefined) return [];
      const items = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : raw;
      if (!Array.isArray(items) || !items.every((x) => typeof x === 'string')) throw new Rejected(allowed);
      const bad = items.findIndex((x: string) => (o.items && !o.items.includes(x)) || (o.minLength !== undefined && x.length < o.minLength));
      if (bad >= 0) throw new Rejected(o.secret ? `${allowed} (entry ${bad} is not)` : `${allowed} ("${items[bad]}" is not)`);
      return [...(items as string[])];
    },
    { ...(o.env !== undefined ? { env: o.env } : {}), ...(o.envAppends ? { envAppends: true } : {}), ...(o.secret ? { secret: true } : {}) },
  );
}

/** A key whose value has its own reader (a list of mappings such as `registries`): no variable. */
export function custom<T>(defaultValue: T, allowed: string, parse: (raw: unknown, origin: Origin) => T, options: Key<T>['options'] = { env: false }): Key<T> {
  return new Key(defaultValue, allowed, parse, { ...options, ownMessages: true });
}

export function resolvePath(s: string, base: string): string {
  if (s === '') return s;
  // A Parameter Store reference (EDGEFLEET_DB=ssm:/edgefleet/db-url on Lambda) is not a file
  // here: it stays as written for resolveSsmSecrets to read.
  if (s.startsWith('ssm:/')) return s;
  if (s === '~' || s.startsWith('~/')) return HOME + s.slice(1);
  return resolve(base, s);
}

/** `collect.commandTimeoutSeconds` → `EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS`. */
export function envName(key: string): string {
  return 'EDGEFLEET_' + key.split('.').map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

/** Every key of a schema, depth first, as [dotted key, rule]. */
export function* keysOf(section: Section, prefix = ''): Generator<[string, Key<unknown>]> {
  for (const [k, v] of Object.entries(section)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v instanceof Key) yield [key, v];
    else yield* keysOf(v, key);
  }
}

/** The variable a key is read from, or undefined for none. */
export function envOf(key: string, rule: Key<unknown>): string | undefined {
  return rule.options.env === false ? undefined : (rule.options.env ?? envName(key));
}
