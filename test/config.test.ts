import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { CONFIG_TEMPLATE } from '../cli/configTemplate.js';
import { DEFAULT_CONFIG, envName, loadConfig } from '../shared/config/config.js';
import { METRIC_KINDS } from '../shared/domain/index.js';

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
    assert.throws(() => loadConfig({ file, env: {} }), /bad\.yaml:2: unknown key "collect.concurency" \(did you mean "concurrency"\?\)/);
    writeFileSync(file, 'collect:\n  concurrency: lots\n');
    assert.throws(() => loadConfig({ file, env: {} }), /bad\.yaml:2: "collect.concurrency": expected a whole number from 1 to 4096, got "lots"/);
    assert.throws(() => loadConfig({ env: { EDGEFLEET_SSH_ACCEPT_NEW_HOST_KEYS: 'maybe' }, cwd: dir }), /EDGEFLEET_SSH_ACCEPT_NEW_HOST_KEYS \(ssh.acceptNewHostKeys\): expected true or false, got "maybe"/);
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

  // The allowed ranges are written out here, not read from the schema: they are what the README promises.
  for (const [env, value, message] of [
    ['EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS', '-1', 'EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS (collect.commandTimeoutSeconds): expected a number above 0 and at most 3600 (seconds), got "-1"'],
    ['EDGEFLEET_COLLECT_CONCURRENCY', '0', 'EDGEFLEET_COLLECT_CONCURRENCY (collect.concurrency): expected a whole number from 1 to 4096, got "0"'],
    ['EDGEFLEET_COLLECT_CONCURRENCY', '2.5', 'EDGEFLEET_COLLECT_CONCURRENCY (collect.concurrency): expected a whole number from 1 to 4096, got "2.5"'],
    ['EDGEFLEET_HUB_PORT', '70000', 'EDGEFLEET_HUB_PORT (hub.port): expected a whole number from 1 to 65535, got "70000"'],
    ['EDGEFLEET_STORE_JOURNAL_MODE', 'wal2', 'EDGEFLEET_STORE_JOURNAL_MODE (store.journalMode): expected one of WAL, DELETE, got "wal2"'],
    // The allowed list is every kind there is (it grows with each new kind).
    ['EDGEFLEET_COLLECT_KINDS', 'cpu,gpux', `EDGEFLEET_COLLECT_KINDS (collect.kinds): expected a list of ${METRIC_KINDS.join(', ')} ("gpux" is not), got "cpu,gpux"`],
    ['EDGEFLEET_COLLECT_NETWORK_EXCLUDE_INTERFACES', '^(lo', 'EDGEFLEET_COLLECT_NETWORK_EXCLUDE_INTERFACES (collect.networkExcludeInterfaces): expected a regular expression, got "^(lo"'],
    ['EDGEFLEET_GEOCODER_URL', 'nominatim.lab', 'EDGEFLEET_GEOCODER_URL (geocoder.url): expected an http:// or https:// URL, got "nominatim.lab"'],
  ] as const) {
    it(`${env}=${value} is refused with the key, the value and what is allowed`, () => {
      assert.throws(() => loadConfig({ env: { [env]: value }, cwd: dir }), (e: Error) => e.name === 'ConfigError' && e.message === message);
    });
  }

  it('a value out of range in the file names file:line, the key, the value and what is allowed', () => {
    const file = join(dir, 'range.yaml');
    writeFileSync(file, 'db: x.db\nhub:\n  port: 8070\n  intervalSeconds: 0\n');
    assert.throws(() => loadConfig({ file, env: {} }), (e: Error) => e.message === `${file}:4: "hub.intervalSeconds": expected a number from 1 to 86400 (seconds), got 0`);
  });

  it('a flag override goes through the same rule', () => {
    assert.throws(() => loadConfig({ env: {}, cwd: dir, overrides: { 'hub.port': 0 } }), /hub\.port: expected a whole number from 1 to 65535, got 0/);
  });

  it('accepts the edges of each range', () => {
    const c = loadConfig({ env: { EDGEFLEET_COLLECT_CONCURRENCY: '1', EDGEFLEET_HUB_PORT: '65535', EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS: '0.5', EDGEFLEET_RETENTION_RAW_DAYS: '0' }, cwd: dir });
    assert.deepEqual([c.collect.concurrency, c.hub.port, c.collect.commandTimeoutSeconds, c.retention.rawDays], [1, 65535, 0.5, 0]);
  });
});
