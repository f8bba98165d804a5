import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { knownKeys, verifyHostKey } from '../shared/transport/knownHosts.js';

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-kh-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An SSH public key blob: string type, then key bytes. */
function blob(type: string, seed: string): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  return Buffer.concat([len, t, Buffer.from(seed.padEnd(32, '.'))]);
}
const keyA = blob('ssh-ed25519', 'a');
const keyB = blob('ssh-ed25519', 'b');

function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

describe('known_hosts', () => {
  const file = join(dir, 'known_hosts');
  writeFileSync(
    file,
    [
      '# comment',
      `[10.0.0.5]:2222 ssh-ed25519 ${keyA.toString('base64')}`,
      `${hashed('jetson-01')} ssh-ed25519 ${keyA.toString('base64')} hashed`,
      `pi-*,!pi-13 ssh-ed25519 ${keyB.toString('base64')}`,
      `@revoked old-box ssh-ed25519 ${keyB.toString('base64')}`,
      '',
    ].join('\n'),
  );

  it('matches [host]:port, hashed names and wildcards with negation', () => {
    assert.equal(knownKeys(file, '10.0.0.5', 2222).length, 1);
    assert.equal(knownKeys(file, '10.0.0.5', 22).length, 0, 'port 22 is filed without brackets');
    assert.equal(knownKeys(file, 'jetson-01', 22).length, 1);
    assert.equal(knownKeys(file, 'pi-07', 22).length, 1);
    assert.equal(knownKeys(file, 'pi-13', 22).length, 0);
  });

  it('accepts the known key, refuses a changed one even with accept-new', () => {
    assert.deepEqual(verifyHostKey(file, '10.0.0.5', 2222, keyA, false), { ok: true });
    const changed = verifyHostKey(file, '10.0.0.5', 2222, keyB, true);
    assert.equal(changed.ok, false);
    assert.match((changed as { reason: string }).reason, /HOST KEY CHANGED/);
  });

  it('refuses a revoked key', () => {
    const v = verifyHostKey(file, 'old-box', 22, keyB, true);
    assert.equal(v.ok, false);
    assert.match((v as { reason: string }).reason, /revoked/);
  });

  it('refuses an unknown host by default, adds it with accept-new', () => {
    const strict = verifyHostKey(file, 'new-node', 22, keyA, false);
    assert.equal(strict.ok, false);
    assert.match((strict as { reason: string }).reason, /not in .*known_hosts.*ssh-keyscan/);
    assert.deepEqual(verifyHostKey(file, 'new-node', 2200, keyA, true), { ok: true, added: true });
    assert.match(readFileSync(file, 'utf8'), /\n\[new-node\]:2200 ssh-ed25519 /);
    assert.deepEqual(verifyHostKey(file, 'new-node', 2200, keyA, false), { ok: true });
  });
});
