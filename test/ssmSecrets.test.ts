/**
 * Config values `ssm:/path` read from Parameter Store on the local SSM server (real SDK,
 * SigV4 checked): SecureStrings decrypted, each read once per process, errors that name the
 * key and the parameter but never a value.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, DEFAULT_CONFIG, loadConfig, type Config } from '../shared/config/config.js';
import { clearSsmSecretsCache, resolveSsmSecrets } from '../shared/config/ssmSecrets.js';
import { startSsmServer, type SsmServer } from './harness/ssmServer.js';

const SAVED_ENV = { ...process.env };
const API_KEY = 'k-9f8e7d6c5b4a';
const PASSWORD = 'hunter2-registry';
const DB_URL = 'postgres://edgefleet:pg-secret@db.internal:5432/edgefleet';
let server: SsmServer;
let dir: string;

const config = (patch: (c: Config) => void): Config => {
  const c = structuredClone(DEFAULT_CONFIG);
  patch(c);
  return c;
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-ssmsecrets-'));
  server = await startSsmServer({
    instances: [],
    parameters: {
      '/edgefleet/api-key': { value: API_KEY, type: 'SecureString' },
      '/edgefleet/registry-password': { value: PASSWORD, type: 'SecureString' },
      '/edgefleet/db-url': { value: DB_URL, type: 'SecureString' },
    },
  });
  Object.assign(process.env, server.env, { AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
  delete process.env.AWS_PROFILE;
});

after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
  process.env = SAVED_ENV;
});

describe('ssm: config values', () => {
  it('replaces each ssm:/path with the decrypted SecureString, wherever it is, reading each once per process', async () => {
    clearSsmSecretsCache();
    server.calls.clear();
    const c = config((c) => {
      c.api.keys = ['ssm:/edgefleet/api-key', 'plain-key'];
      c.registries = [{ name: 'lab', url: 'https://registry.lab:5000', username: 'ci', password: 'ssm:/edgefleet/registry-password' } as never];
    });
    const r = await resolveSsmSecrets(c);
    assert.deepEqual(r.api.keys, [API_KEY, 'plain-key']);
    assert.equal((r.registries[0] as { password?: string }).password, PASSWORD);
    assert.equal(c.api.keys[0], 'ssm:/edgefleet/api-key', 'the loaded config is left as it was');
    assert.equal(server.calls.get('GetParameters'), 1);
    await resolveSsmSecrets(c);
    assert.equal(server.calls.get('GetParameters'), 1, 'read once per process');
    assert.deepEqual(server.rejected, []);
  });

  it('reads the database from a reference in EDGEFLEET_DB (the Lambda deploy), not as a file path', async () => {
    clearSsmSecretsCache();
    const c = loadConfig({ env: { EDGEFLEET_DB: 'ssm:/edgefleet/db-url' }, cwd: dir });
    assert.equal(c.db, 'ssm:/edgefleet/db-url');
    assert.equal((await resolveSsmSecrets(c)).db, DB_URL);
  });

  it('leaves a config without ssm: values alone, asking nothing', async () => {
    server.calls.clear();
    const c = config(() => {});
    assert.equal(await resolveSsmSecrets(c), c);
    assert.equal(server.totalCalls(), 0);
  });

  it('names the key and the parameter that is missing, and never a value', async () => {
    clearSsmSecretsCache();
    const c = config((c) => {
      c.api.keys = ['ssm:/edgefleet/api-key', 'ssm:/edgefleet/gone'];
    });
    await assert.rejects(resolveSsmSecrets(c), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /api\.keys\[1\]: SSM parameter \/edgefleet\/gone not found/);
      assert.ok(!e.message.includes(API_KEY));
      return true;
    });
    await assert.rejects(resolveSsmSecrets(config((c) => void (c.api.keys = ['ssm:edgefleet']))), /api\.keys\[0\]: "ssm:" must be followed by a parameter path/);
  });
});
