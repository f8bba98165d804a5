/**
 * The model catalog and deployments with PostgreSQL as the store, end to end and real parts only:
 * Debian's PostgreSQL 15 (test/harness/postgres.ts), Debian's docker-registry holding a model
 * image, an OpenSSH node with Podman as its engine (test/harness/modelLab.ts), two `edgefleet hub`
 * processes and the CLI, all on one `postgres://` URL. What is checked is read back from
 * PostgreSQL itself (psql) and from the hubs' HTTP routes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from './harness/cli.js';
import { startHubs, type HubProcess } from './harness/hub.js';
import { startModelLab, type ModelLab } from './harness/modelLab.js';
import { pushModelImage } from './harness/podman.js';
import { freePort } from './harness/ports.js';
import { postgresAvailable, startPostgres, type TestPostgres } from './harness/postgres.js';
import { until } from './harness/until.js';

const KEY = 'pg-models-key-0123456789';
const REPO = 'lab/detector';

const logLines = (h: HubProcess) =>
  h.stderr().split('\n').flatMap((l) => {
    try {
      return l.startsWith('{') ? [JSON.parse(l) as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });

describe('models and deployments on PostgreSQL', { skip: postgresAvailable() ? false : 'no PostgreSQL 15 here' }, () => {
  let pg: TestPostgres;
  let lab: ModelLab;
  let url: string;
  let digest: string;
  let hubs: HubProcess[] = [];
  let env: Record<string, string>;

  before(async () => {
    [pg, lab] = await Promise.all([startPostgres(), startModelLab('edgefleet-pgmodels-')]);
    digest = (await pushModelImage(lab.registry.push, REPO, 'v1', { entrypoint: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'], labels: { 'io.edgefleet.model.task': 'object-detection' } })).digest;
    url = pg.createDatabase('models_e2e');
    env = { EDGEFLEET_DB: url, EDGEFLEET_API_KEY: KEY };
  });

  after(async () => {
    await Promise.allSettled(hubs.map((h) => h.kill()));
    await Promise.allSettled([lab?.close(), pg?.close()]);
  });

  it('two hubs on one PostgreSQL: the scheduled catalog sync runs once across them; each hub lists the catalog from PostgreSQL', async () => {
    const ports = [await freePort(), await freePort()];
    hubs = await startHubs(ports.map((port) => ({ cwd: lab.dir, port, env })));
    const detail = () => hubs.map((h) => h.stderr()).join('\n---\n');
    // Both hubs start collectModels at once (hub.ts ticks every schedule at start).
    await until('both hubs ran collectModels', 60_000, () => hubs.every((h) => logLines(h).some((l) => l.msg === 'scheduled run' && l.function === 'collectModels')), { detail });
    const synced = hubs.flatMap(logLines).filter((l) => l.fn === 'collectModels' && l.msg === 'registry synced');
    assert.equal(synced.length, 1, 'one full sync across the two hubs');
    assert.equal(pg.psql("SELECT COUNT(*) || ' ' || COUNT(finished_unix_ms) FROM job_runs WHERE job = 'collectModels'", 'models_e2e'), '1 1');
    assert.ok(hubs.every((h) => !logLines(h).some((l) => l.function === 'collectModels' && l.msg === 'not scheduled: it needs the SQLite store (docs/postgres.md)')));
    // In PostgreSQL, as psql reads it.
    assert.equal(pg.psql("SELECT registry || ' ' || repository || ':' || tag || ' ' || digest || ' ' || task FROM models", 'models_e2e'), `lab ${REPO}:v1 ${digest} object-detection`);
    for (const h of hubs) {
      const res = await fetch(`${h.base}/models`, { signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200);
      const { models } = (await res.json()) as { models: { repository: string; tag: string; digest: string; task: string; platforms: { platform: string }[] }[] };
      assert.deepEqual(models.map((m) => [m.repository, m.tag, m.digest, m.task, m.platforms.map((p) => p.platform)]), [[REPO, 'v1', digest, 'object-detection', ['linux/amd64']]]);
    }
    const one = await fetch(`${hubs[1]!.base}/models/${REPO}:v1`, { signal: AbortSignal.timeout(5000) });
    assert.equal(one.status, 200);
    assert.equal(((await one.json()) as { models: { digest: string }[] }).models[0]!.digest, digest);
    assert.equal((await fetch(`${hubs[0]!.base}/models/lab/nope:v1`, { signal: AbortSignal.timeout(5000) })).status, 404);
  });

  it('a deployment run by the CLI is recorded in PostgreSQL step by step, and any hub reads it', async () => {
    const node = lab.fleet.nodes[0]!.name;
    const r = await runCli(['deploy', `${REPO}:v1`, '--nodes', node, '--json'], { cwd: lab.dir, env, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { id: string; status: string; digest: string };
    assert.deepEqual([s.status, s.digest], ['succeeded', digest]);
    assert.equal(pg.psql(`SELECT status || ' ' || digest FROM deployments WHERE id = '${s.id}'`, 'models_e2e'), `succeeded ${digest}`);
    const states = pg.psql(`SELECT state FROM deployment_events WHERE deployment_id = '${s.id}' ORDER BY id`, 'models_e2e').split('\n').filter((x, i, a) => x !== a[i - 1]);
    assert.deepEqual(states, ['queued', 'pulling', 'creating', 'starting', 'verifying', 'running']);
    assert.equal(pg.psql(`SELECT COUNT(*) FROM deployment_claims`, 'models_e2e'), '0', 'the (node, model) claim is released');
    const running = lab.engine.containers().filter((c) => c.state === 'running' && c.labels['io.edgefleet.deployment'] === s.id);
    assert.equal(running.length, 1);
    for (const h of hubs) {
      const res = await fetch(`${h.base}/deployments/${s.id}`, { headers: { authorization: `Bearer ${KEY}` }, signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200);
      const d = (await res.json()) as { status: string; nodes: { node: string; state: string; containerName: string }[] };
      assert.deepEqual([d.status, d.nodes.map((n) => [n.node, n.state, n.containerName])], ['succeeded', [[node, 'running', running[0]!.name]]]);
    }
    const list = await runCli(['deployments', '--json'], { cwd: lab.dir, env });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { id: string }[]).map((d) => d.id), [s.id]);
  });
});
