/**
 * A hung mount on an SSM node. SSM answers a command whole or not at all — a probe killed at
 * the command timeout gives no partial output — so df is always bounded on an SSM node: the
 * hung df costs its storage only, the other kinds of the round are stored, and no command
 * timeout is spent. (Over SSH the partial output carries them: test/faults/probe.test.ts.)
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { lambdaContext } from '../../cli/lambdaContext.js';
import type { CollectionSummary } from '../../shared/collect/collection.js';
import { closeResources } from '../../shared/handler/resources.js';
import { managedInstanceId, startSsmServer, type SsmServer } from '../harness/ssmServer.js';

const MACHINES = join(import.meta.dirname, '..', 'fixtures', 'machines');
const COMMAND_TIMEOUT_SECONDS = 6;
/** The fake df sleeps this long: a number no other process here sleeps for. */
const HUNG_DF_SLEEP = 4231;
const SAVED_ENV = { ...process.env };

let dir: string;
let ssm: SsmServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-faults-ssmdf-'));
  chmodSync(dir, 0o755);
  const root = join(dir, 'root');
  cpSync(join(MACHINES, 'rpi4', 'proc'), join(root, 'proc'), { recursive: true });
  cpSync(join(MACHINES, 'rpi4', 'sys'), join(root, 'sys'), { recursive: true, verbatimSymlinks: true });
  writeFileSync(join(root, 'proc', 'uptime'), '1000.00 3500.00\n');
  const fakeBin = join(dir, 'fakebin');
  mkdirSync(fakeBin);
  // A df that never answers, as statfs on a dead NFS server; first on the agent's PATH.
  writeFileSync(join(fakeBin, 'df'), `#!/bin/sh\nexec sleep ${HUNG_DF_SLEEP}\n`, { mode: 0o755 });
  const id = managedInstanceId(0xdf);
  ssm = await startSsmServer({ instances: [{ id, root: dir, env: { PATH: `${fakeBin}:/usr/bin:/bin` } }] });
  writeFileSync(join(dir, 'hosts.ini'), `[nat]\ncam ansible_connection=aws_ssm ansible_host=${id} edgefleet_proc_root=${root}/proc edgefleet_sys_root=${root}/sys\n`);
  Object.assign(process.env, ssm.env, {
    AWS_CONFIG_FILE: join(dir, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
    EDGEFLEET_INVENTORY: join(dir, 'hosts.ini'),
    EDGEFLEET_DB: join(dir, 'edgefleet.db'),
    EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS: String(COMMAND_TIMEOUT_SECONDS),
    EDGEFLEET_LOG_LEVEL: 'silent',
  });
  delete process.env.AWS_PROFILE;
});

after(async () => {
  await closeResources();
  await ssm?.close();
  rmSync(dir, { recursive: true, force: true });
  process.env = SAVED_ENV;
});

describe('an SSM node whose df hangs', () => {
  it('loses its storage only, in its first round: the other kinds are stored, no command timeout spent', async () => {
    const { handler } = await import('../../functions/collectAll.js');
    const round = (await handler({}, lambdaContext('collectAll') as never)) as CollectionSummary;
    const r = round.perNode.find((n) => n.node === 'cam')!;
    assert.equal(r.status, 'error');
    assert.match(r.error!, /^storage: df did not answer within \d s \(a hung mount\?\) and was killed on the node/);
    assert.ok(round.durationMs < COMMAND_TIMEOUT_SECONDS * 1000, `round took ${round.durationMs} ms`);
    const db = new Database(join(dir, 'edgefleet.db'), { readonly: true });
    try {
      const count = (t: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
      for (const t of ['temperature', 'load', 'memory', 'network']) assert.ok(count(t) > 0, `no ${t}`);
      assert.equal(count('storage'), 0);
    } finally {
      db.close();
    }
  });
});
