import { ConfigError, type Config } from './config.js';

/**
 * Config values written `ssm:/path/to/parameter` come from AWS Systems Manager Parameter Store
 * (SecureString decrypted with WithDecryption): registry passwords, API keys. Each parameter is
 * read once per process and kept only in memory; errors name the config key and the
 * parameter, never a value.
 */
const PREFIX = /^ssm:(\/[a-zA-Z0-9_.\-/]{1,2047})$/;
/** GetParameters takes at most 10 names. */
const BATCH = 10;
const TIMEOUT_MS = 10_000;
const cache = new Map<string, string>();

/** The config with every `ssm:` value replaced by its parameter's value; the same object when there is none. */
export async function resolveSsmSecrets(config: Config): Promise<Config> {
  const refs: { key: string; name: string }[] = [];
  walk(config, '', (key, value) => {
    const m = PREFIX.exec(value);
    if (m) refs.push({ key, name: m[1]! });
    else if (value.startsWith('ssm:')) throw new ConfigError(`${key}: "ssm:" must be followed by a parameter path such as ssm:/edgefleet/registry-password`);
  });
  if (refs.length === 0) return config;
  const region = config.ssm.region || undefined;
  const cacheKey = (name: string) => `${region ?? ''}\0${name}`;
  const missing = [...new Set(refs.map((r) => r.name))].filter((n) => !cache.has(cacheKey(n)));
  if (missing.length) {
    // Loaded only when a value asks for it: the SDK costs every process ~0.2 s of start-up.
    const { GetParametersCommand, SSMClient } = await import('@aws-sdk/client-ssm');
    const client = new SSMClient(region ? { region } : {});
    try {
      for (let i = 0; i < missing.length; i += BATCH) {
        const names = missing.slice(i, i + BATCH);
        let out;
        try {
          out = await client.send(new GetParametersCommand({ Names: names, WithDecryption: true }), { abortSignal: AbortSignal.timeout(TIMEOUT_MS) });
        } catch (e) {
          throw new ConfigError(`cannot read ${names.join(', ')} from SSM Parameter Store: ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
        }
        for (const p of out.Parameters ?? []) if (p.Name && p.Value !== undefined) cache.set(cacheKey(p.Name), p.Value);
        const invalid = out.InvalidParameters ?? [];
        if (invalid.length) {
          const keys = refs.filter((r) => invalid.includes(r.name)).map((r) => r.key);
          throw new ConfigError(`${keys.join(', ')}: SSM parameter ${invalid.join(', ')} not found${region ? ` in ${region}` : ''}`);
        }
      }
    } finally {
      client.destroy();
    }
  }
  const resolved = structuredClone(config);
  walk(resolved, '', (_key, value, set) => {
    const m = PREFIX.exec(value);
    if (m) set(cache.get(cacheKey(m[1]!))!);
  });
  return resolved;
}

/** Every string leaf, with its dotted key and a setter. */
function walk(obj: unknown, prefix: string, fn: (key: string, value: string, set: (v: string) => void) => void): void {
  if (Array.isArray(obj)) {
    obj.forEach((v, i) => (typeof v === 'string' ? fn(`${prefix}[${i}]`, v, (x) => (obj[i] = x)) : walk(v, `${prefix}[${i}]`, fn)));
  } else if (obj && typeof obj === 'object') {
    const rec = obj as Record<string, unknown>;
    for (const [k, v] of Object.entries(rec)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (typeof v === 'string') fn(key, v, (x) => (rec[k] = x));
      else walk(v, key, fn);
    }
  }
}

/** For tests: forget what was read. */
export function clearSsmSecretsCache(): void {
  cache.clear();
}
