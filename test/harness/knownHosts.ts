import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** How known_hosts names a host: `[host]:port` unless the port is 22. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH's fingerprint of a public key blob, as `ssh-keygen -l` prints it. */
export function fingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/**
 * An ssh2 `hostVerifier` that accepts exactly the keys known_hosts lists for host:port
 * (plain entries only: the fleet writes no hashed names, markers or wildcards).
 */
export function knownHostsVerifier(knownHostsFile: string, host: string, port: number): (key: Buffer) => boolean {
  const name = knownHostsName(host, port);
  const keys = readFileSync(knownHostsFile, 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([names]) => names?.split(',').includes(name))
    .map(([, , b64]) => b64 ?? '');
  return (key) => keys.includes(key.toString('base64'));
}
