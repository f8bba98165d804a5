/**
 * Secrets in inventory vars (top level, nested dicts and lists, key material by value) never
 * reach nodes.vars_json (which Grafana reads) nor a log line; store.keepVars keeps what a user asks for.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isSecretName } from '../../shared/domain/secrets.js';
import { jsonLogger } from '../../shared/handler/logger.js';
import { runCli } from '../harness/cli.js';

// Each secret is a value found nowhere else, so finding it anywhere is a leak.
const SECRETS = {
  wandb_api_key: 'S1-wandb-0c7f3e',
  aws_secret_access_key: 'S2-aws-9b1d55',
  private_key: 'S3-private-4e2a10',
  ansible_become_pass: 'S4-become-77aa01',
  nested: 'S5-nested-db-pw',
  listed: 'S6-listed-token',
  pem: '-----BEGIN OPENSSH PRIVATE KEY-----\nS7-pem-body\n-----END OPENSSH PRIVATE KEY-----',
  camel: 'S8-camel-apikey',
};
const KEY_FILE = '/home/lab/.ssh/id_ed25519_jetson';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-faults-secrets-'));
  writeFileSync(
    join(dir, 'hosts.yaml'),
    `all:
  hosts:
    jetson-01:
      ansible_connection: local
      ansible_ssh_private_key_file: ${KEY_FILE}
      wandb_api_key: ${SECRETS.wandb_api_key}
      aws_secret_access_key: ${SECRETS.aws_secret_access_key}
      private_key: ${SECRETS.private_key}
      ansible_become_pass: ${SECRETS.ansible_become_pass}
      deploy_key_material: ${JSON.stringify(SECRETS.pem)}
      services:
        db: { host: db.lab, password: ${SECRETS.nested} }
        hooks:
          - { url: "https://hooks.lab/a", token: ${SECRETS.listed} }
      mlflow: { trackingApiKey: ${SECRETS.camel} }
      vault_addr: https://vault.lab:8200
      compass_heading: 270
`,
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('fault: secrets in inventory vars', () => {
  it('wandb_api_key, aws_secret_access_key, private_key, nested dicts/lists and a PEM value: the user sees nothing of them, nodes.vars_json holds <redacted>; the key file path, vault_addr (store.keepVars) and compass_heading are kept', async () => {
    const db = join(dir, 'secrets.db');
    const r = await runCli(['nodes', '-i', join(dir, 'hosts.yaml'), '--db', db, '--json', '-v'], { cwd: dir, env: { EDGEFLEET_STORE_KEEP_VARS: 'vault_addr', EDGEFLEET_LOG_LEVEL: 'debug' } });
    assert.equal(r.code, 0, r.stderr);
    const check = new Database(db, { readonly: true });
    const raw = (check.prepare("SELECT vars_json FROM nodes WHERE name = 'jetson-01'").get() as { vars_json: string }).vars_json;
    check.close();
    for (const [what, s] of Object.entries(SECRETS)) {
      const needle = s.split('\n')[1] ?? s;
      assert.ok(!raw.includes(needle), `${what} stored: ${raw}`);
      assert.ok(!r.stdout.includes(needle) && !r.stderr.includes(needle), `${what} shown or logged`);
    }
    const vars = JSON.parse(raw);
    assert.equal(vars.wandb_api_key, '<redacted>');
    assert.equal(vars.aws_secret_access_key, '<redacted>');
    assert.equal(vars.private_key, '<redacted>');
    assert.equal(vars.ansible_become_pass, '<redacted>');
    assert.equal(vars.deploy_key_material, '<redacted>');
    assert.deepEqual(vars.services, { db: { host: 'db.lab', password: '<redacted>' }, hooks: [{ url: 'https://hooks.lab/a', token: '<redacted>' }] });
    assert.deepEqual(vars.mlflow, { trackingApiKey: '<redacted>' });
    assert.equal(vars.ansible_ssh_private_key_file, KEY_FILE);
    assert.equal(vars.vault_addr, 'https://vault.lab:8200');
    assert.equal(vars.compass_heading, 270);
  });

  it('names: what Ansible, AWS, W&B, HTTP and registries call secrets is redacted; paths to key files and look-alike words (compass, bypass, keyboard) are kept', () => {
    const secret = [
      'ansible_password', 'ansible_ssh_pass', 'ansible_become_pass', 'ansible_become_password', 'vault_password', 'wandb_api_key',
      'WANDB_API_KEY', 'aws_secret_access_key', 'aws_access_key_id', 'aws_session_token', 'private_key', 'ssh_key', 'github_token',
      'hf_token', 'db_passwd', 'registry_credentials', 'Authorization', 'X-Api-Key', 'apikey', 'clientSecret', 'license_key', 'cookie',
    ];
    const kept = [
      'ansible_ssh_private_key_file', 'ansible_private_key_file', 'vault_password_file', 'tls_key_path', 'compass_heading', 'bypass_proxy',
      'keyboard_layout', 'ansible_host', 'ansible_user', 'edgefleet_engine_socket', 'passenger_count', 'monkey', 'key', 'primary_key_column',
    ];
    assert.deepEqual(secret.filter((n) => !isSecretName(n)), []);
    assert.deepEqual(kept.filter((n) => isSecretName(n)), []);
  });

  it('a log line with secret-named fields at any depth (authorization, api_key, nested password): the line shows <redacted>, never the value', () => {
    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((s: string) => (lines.push(String(s)), true)) as typeof process.stderr.write;
    try {
      jsonLogger({ fn: 'test' }, 'debug').info('request', { authorization: 'Bearer S9-bearer', api_key: 'S10-key', registry: { url: 'https://r.lab', password: 'S11-pw' }, nodes: 3 });
    } finally {
      process.stderr.write = write;
    }
    assert.equal(lines.length, 1);
    assert.doesNotMatch(lines[0]!, /S9-|S10-|S11-/);
    const entry = JSON.parse(lines[0]!);
    assert.equal(entry.authorization, '<redacted>');
    assert.equal(entry.api_key, '<redacted>');
    assert.deepEqual(entry.registry, { url: 'https://r.lab', password: '<redacted>' });
    assert.equal(entry.nodes, 3);
  });
});
