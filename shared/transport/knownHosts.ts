import { createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * OpenSSH known_hosts, read the way `ssh` reads it: plain and hashed (`|1|salt|hmac`) host
 * patterns, `*`/`?` wildcards, `!` negation, `[host]:port` for ports other than 22, and the
 * `@revoked` marker. `@cert-authority` lines are skipped (no certificate support).
 */
export interface KnownKey {
  keyType: string;
  keyBase64: string;
  revoked: boolean;
}

interface Entry extends KnownKey {
  patterns: string[];
}

const cache = new Map<string, { mtimeMs: number; entries: Entry[] }>();

function entries(file: string): Entry[] {
  if (!existsSync(file)) return [];
  const mtimeMs = statSync(file).mtimeMs;
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === mtimeMs) return hit.entries;
  const parsed: Entry[] = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const f = line.split(/\s+/);
    let marker: string | undefined;
    if (f[0]!.startsWith('@')) marker = f.shift();
    if (marker === '@cert-authority' || f.length < 3) continue;
    parsed.push({ patterns: f[0]!.split(','), keyType: f[1]!, keyBase64: f[2]!, revoked: marker === '@revoked' });
  }
  cache.set(file, { mtimeMs, entries: parsed });
  return parsed;
}

/** The name a host is filed under: `host`, or `[host]:port` when the port is not 22. */
export function hostEntryName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function wildcardMatch(pattern: string, name: string): boolean {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 'i');
  return re.test(name);
}

function matches(patterns: string[], name: string): boolean {
  let hit = false;
  for (const p of patterns) {
    if (p.startsWith('|1|')) {
      const [, , salt, hash] = p.split('|');
      if (salt && hash && createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash) hit = true;
    } else if (p.startsWith('!')) {
      if (wildcardMatch(p.slice(1), name)) return false;
    } else if (wildcardMatch(p, name)) hit = true;
  }
  return hit;
}

/** The keys known_hosts holds for a host (revoked ones included, marked). */
export function knownKeys(file: string, host: string, port: number): KnownKey[] {
  const name = hostEntryName(host, port);
  return entries(file)
    .filter((e) => matches(e.patterns, name))
    .map(({ keyType, keyBase64, revoked }) => ({ keyType, keyBase64, revoked }));
}

/** Append a host's key, as `ssh -o StrictHostKeyChecking=accept-new` does. */
export function addKnownKey(file: string, host: string, port: number, keyType: string, keyBase64: string): void {
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${hostEntryName(host, port)} ${keyType} ${keyBase64}\n`, { mode: 0o600 });
  cache.delete(file);
}

/** The key type inside an SSH public key blob (its first string). */
export function keyTypeOfBlob(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

export type HostKeyVerdict = { ok: true; added?: boolean } | { ok: false; reason: string };

/** Decide on a host key the server presented, like OpenSSH's StrictHostKeyChecking=yes (or accept-new). */
export function verifyHostKey(file: string, host: string, port: number, blob: Buffer, acceptNew: boolean): HostKeyVerdict {
  const keyBase64 = blob.toString('base64');
  const keyType = keyTypeOfBlob(blob);
  const known = knownKeys(file, host, port);
  if (known.some((k) => k.revoked && k.keyBase64 === keyBase64)) return { ok: false, reason: `host key for ${hostEntryName(host, port)} is marked revoked in ${file}` };
  if (known.some((k) => !k.revoked && k.keyBase64 === keyBase64)) return { ok: true };
  if (known.some((k) => !k.revoked && k.keyType === keyType)) {
    return { ok: false, reason: `HOST KEY CHANGED for ${hostEntryName(host, port)}: the ${keyType} key it offers is not the one in ${file} (possible man-in-the-middle); remove the old entry if the change is expected` };
  }
  if (!acceptNew) {
    return { ok: false, reason: `host key for ${hostEntryName(host, port)} is not in ${file}; add it (ssh-keyscan -p ${port} ${host} >> ${file}) or set ssh.acceptNewHostKeys` };
  }
  addKnownKey(file, host, port, keyType, keyBase64);
  return { ok: true, added: true };
}
