/** One host's unusable vars (a bad ansible_port, an unknown connection) against two real sshd nodes. */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runCli } from '../harness/cli.js';
import { writeFleetInventory } from '../harness/hub.js';
import { startFleet, type Fleet } from '../harness/sshFleet.js';

let dir: string;
let fleet: Fleet;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-faults-hosts-'));
  chmodSync(dir, 0o755);
  fleet = await startFleet({ count: 2 });
});
after(async () => {
  await fleet?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('fault: one host with bad vars', () => {
  it('ansible_port=99999 on one host, ansible_connection=winrm on another: `run` exits 1 (settings to fix, not rejected data), those hosts show error with file:line and the reason, the two good nodes are collected; nothing is stored for the bad ones but their status', async () => {
    const inventory = writeFleetInventory(dir, fleet, ['bad-port ansible_host=127.0.0.1 ansible_port=99999', 'bad-conn ansible_connection=winrm']);
    const db = join(dir, 'hosts.db');
    const r = await runCli(['run', '--json'], { cwd: dir, env: { EDGEFLEET_INVENTORY: inventory, EDGEFLEET_DB: db, EDGEFLEET_SSH_KNOWN_HOSTS_FILE: fleet.knownHostsFile } });
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as { perNode: { node: string; status: string; error?: string; rows: number }[] };
    const by = Object.fromEntries(out.perNode.map((n) => [n.node, n]));
    assert.equal(by['bad-port']!.status, 'error');
    // Lines 2-3 are the good nodes (writeFleetInventory), 4 and 5 the bad ones.
    assert.equal(by['bad-port']!.error, `${inventory}:4: host bad-port: ansible_port "99999" is not a port number (1-65535)`);
    assert.equal(by['bad-conn']!.status, 'error');
    assert.equal(by['bad-conn']!.error, `${inventory}:5: host bad-conn: ansible_connection=winrm is not supported (use local, ssh or aws_ssm)`);
    for (const n of fleet.nodes) {
      assert.equal(by[n.name]!.status, 'up', JSON.stringify(by[n.name]));
      assert.ok(by[n.name]!.rows > 0);
    }
    const check = new Database(db, { readonly: true });
    try {
      const bad = check.prepare("SELECT status, port, last_error FROM nodes WHERE name = 'bad-port'").get() as { status: string; port: number | null; last_error: string };
      assert.deepEqual({ status: bad.status, port: bad.port }, { status: 'error', port: null });
      assert.match(bad.last_error, /ansible_port "99999"/);
      const memRows = (name: string) => (check.prepare('SELECT COUNT(*) AS n FROM memory m JOIN nodes n ON n.id = m.node_id WHERE n.name = ?').get(name) as { n: number }).n;
      assert.equal(memRows('bad-port'), 0);
      for (const n of fleet.nodes) assert.equal(memRows(n.name), 1);
    } finally {
      check.close();
    }
  });
});
