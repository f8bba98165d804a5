/**
 * Which names and values are secrets: one list, used by the store (nodes.vars_json, which
 * Grafana reads) and by the logger. A name is split into words (`aws_secret_access_key`,
 * `wandbApiKey`, `X-Api-Key` → words), so `compass` or `bypass_proxy` is not `pass`.
 */

/** A word of the name that alone says secret. */
const SECRET_WORDS = new Set([
  'password', 'passwd', 'pass', 'passphrase', 'pwd', 'secret', 'secrets', 'token', 'tokens', 'credential', 'credentials',
  'vault', 'authorization', 'cookie', 'apikey', 'privatekey', 'accesskey', 'secretkey', 'sessionkey', 'bearer',
]);

/** `<word> key` pairs that say secret (`wandb_api_key`, `private_key`, `ssh_key`, `license_key`). */
const KEY_QUALIFIERS = new Set(['api', 'private', 'access', 'secret', 'ssh', 'encryption', 'signing', 'license', 'master', 'client', 'session', 'auth', 'sign']);

/**
 * A var naming a file or folder holds a path, not the secret: `ansible_ssh_private_key_file`
 * says which key is used, as `ssh -i` does, and is kept (the key's content is never read into
 * vars). A path-named var whose value is itself key material is still redacted (see below).
 */
const PATH_SUFFIXES = new Set(['file', 'path', 'dir', 'folder']);

/** Values that are secrets whatever their name: PEM private keys, Ansible Vault ciphertext. */
const SECRET_VALUE = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----|^\s*\$ANSIBLE_VAULT;/;

export const REDACTED = '<redacted>';

/** `aws_secret_access_key` → ['aws','secret','access','key']; `wandbApiKey` → ['wandb','api','key']. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** True when a var, field or header name says it holds a secret. */
export function isSecretName(name: string): boolean {
  const w = words(name);
  if (w.length && PATH_SUFFIXES.has(w.at(-1)!)) return false;
  for (let i = 0; i < w.length; i++) {
    if (SECRET_WORDS.has(w[i]!)) return true;
    if (w[i] === 'key' && i > 0 && KEY_QUALIFIERS.has(w[i - 1]!)) return true;
  }
  return false;
}

export function isSecretValue(v: unknown): boolean {
  return typeof v === 'string' && SECRET_VALUE.test(v);
}

/**
 * `value` with every secret replaced by `<redacted>`, at any depth (dicts and lists of vars).
 * `keep`: top-level names the user chose to keep as they are (`store.keepVars`). Never
 * mutates its input; cycles are cut rather than followed.
 */
export function redactSecrets<T>(value: T, keep: ReadonlySet<string> = new Set()): T {
  const seen = new WeakSet<object>();
  const walk = (v: unknown, depth: number): unknown => {
    if (isSecretValue(v)) return REDACTED;
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return '<cycle>';
    seen.add(v);
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (v instanceof Error) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (depth === 0 && keep.has(k)) out[k] = x;
      else out[k] = isSecretName(k) ? REDACTED : walk(x, depth + 1);
    }
    return out;
  };
  return walk(value, 0) as T;
}
