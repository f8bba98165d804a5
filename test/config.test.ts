import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { CONFIG_TEMPLATE } from '../cli/configTemplate.js';
import { DEFAULT_CONFIG, envName, loadConfig } from '../shared/config/config.js';

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('configuration', () => {
  it('names an environment variable for every key', () => {
    assert.equal(envName('collect.commandTimeoutSeconds'), 'EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS');
    assert.equal(envName('db'), 'EDGEFLEET_DB');
  });

  it('layers defaults < file < environment < flags, with paths relative to the file', () => {
    const file = join(dir, 'edgefleet.yaml');
    writeFileSync(file, 'db: lab.db\ninventory: hosts.ini\ncollect:\n  concurrency: 8\n  commandTimeoutSeconds: 4\nssh:\n  acceptNewHostKeys: yes\n');
    const c = loadConfig({
      file,
      cwd: '/',
      env: { EDGEFLEET_COLLECT_CONCURRENCY: '16', EDGEFLEET_STORE_JOURNAL_MODE: 'DELETE', EDGEFLEET_COLLECT_KINDS: 'cpu, memory' },
      overrides: { inventory: '/etc/ansible/hosts' },
    });
    assert.equal(c.db, join(dir, 'lab.db'));
    assert.equal(c.inventory, '/etc/ansible/hosts');
    assert.equal(c.collect.concurrency, 16);
    assert.equal(c.collect.commandTimeoutSeconds, 4);
    assert.equal(c.collect.connectTimeoutSeconds, DEFAULT_CONFIG.collect.connectTimeoutSeconds);
    assert.equal(c.ssh.acceptNewHostKeys, true);
    assert.equal(c.store.journalMode, 'DELETE');
    assert.deepEqual(c.collect.kinds, ['cpu', 'memory']);
  });

  it('rejects unknown keys and mistyped values with the key named', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'collect:\n  concurency: 8\n');
    assert.throws(() => loadConfig({ file, env: {} }), /unknown key "collect.concurency"/);
    writeFileSync(file, 'collect:\n  concurrency: lots\n');
    assert.throws(() => loadConfig({ file, env: {} }), /"collect.concurrency": expected a number, got "lots"/);
    assert.throws(() => loadConfig({ env: { EDGEFLEET_SSH_ACCEPT_NEW_HOST_KEYS: 'maybe' }, cwd: dir }), /EDGEFLEET_SSH_ACCEPT_NEW_HOST_KEYS: expected true or false/);
  });

  it('writes a template that loads back to the defaults', () => {
    const file = join(dir, 'template.yaml');
    writeFileSync(file, CONFIG_TEMPLATE);
    assert.ok(parseYaml(CONFIG_TEMPLATE));
    const c = loadConfig({ file, env: {}, cwd: dir });
    assert.equal(c.collect.concurrency, DEFAULT_CONFIG.collect.concurrency);
    assert.equal(c.db, join(dir, DEFAULT_CONFIG.db));
    assert.match(CONFIG_TEMPLATE, /EDGEFLEET_HUB_INTERVAL_SECONDS/);
  });
});
