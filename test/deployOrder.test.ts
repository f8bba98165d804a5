/**
 * Redeploys as a real lab does them, on one Podman node over SSH (test/harness/modelLab.ts):
 * a model server on a fixed host port with host networking (stop-first), a model that can run
 * twice (start-first), a new tag that dies, a tag that does not exist, and an engine socket that
 * accepts and never answers. What a user would check is checked the user's way: an HTTP GET to
 * the port says which version answers; `podman ps` / `podman inspect` say what runs.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inventoryNodes } from '../shared/collect/collection.js';
import { loadConfig, type Config } from '../shared/config/config.js';
import { createDeployment, parseDeployRequest, runDeployment, updateOrder, type DeployDeps, type DeploymentSummary } from '../shared/deploy/index.js';
import { silentLogger, type NodeSpec } from '../shared/domain/index.js';
import { deploymentEvents, deploymentNodes, openDb, type Db } from '../shared/store/index.js';
import { TransportPool } from '../shared/transport/pool.js';
import { startHub, sleep, type HubProcess } from './harness/hub.js';
import { startModelLab, type ModelLab } from './harness/modelLab.js';
import { pushModelImage } from './harness/podman.js';
import { freePort } from './harness/ports.js';

const SERVER = 'lab/server';
const API_KEY = 'test-key-0123456789abcdef';
const SLEEPER = 'lab/sleeper';

/** busybox httpd on 127.0.0.1:$PORT serving its version; TERM stops it at once. */
const serverScript = (version: string) => `echo ${version} > /tmp/index.html; httpd -f -p 127.0.0.1:$PORT -h /tmp & trap "kill $!; exit 0" TERM; wait`;
const SLEEP = 'trap "exit 0" TERM; sleep 3600 & wait';

describe('update order on a real Podman node', { timeout: 300_000 }, () => {
  let lab: ModelLab;
  let config: Config;
  let db: Db;
  let pool: TransportPool;
  let port: number;
  let wedgeDir: string;
  let wedge: Server;
  const wedged: Socket[] = [];
  let closedWedged = 0;

  before(async () => {
    lab = await startModelLab('edgefleet-deploy-order-');
    port = await freePort();
    // A unix socket that accepts every connection and never answers: a wedged engine.
    wedgeDir = mkdtempSync(join(tmpdir(), 'edgefleet-wedge-'));
    chmodSync(wedgeDir, 0o755);
    const wedgeSocket = join(wedgeDir, 'docker.sock');
    wedge = createServer((s) => {
      wedged.push(s);
      s.resume().on('error', () => {}).on('close', () => closedWedged++);
    });
    await new Promise<void>((r) => wedge.listen(wedgeSocket, r));
    chmodSync(wedgeSocket, 0o777);
    const n = lab.fleet.nodes[0]!;
    const reach = `ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile}`;
    // node01 (host networking), plain (the same engine, no network: start-first by default) and wedged.
    writeFileSync(
      join(lab.dir, 'inventory.ini'),
      [`[edge]`, `node01 ${reach} edgefleet_engine_socket=${lab.engine.socketPath} edgefleet_network_mode=host`, `[plain]`, `plain ${reach} edgefleet_engine_socket=${lab.engine.socketPath} edgefleet_network_mode=none`, `[wedged]`, `wedged ${reach} edgefleet_engine_socket=${wedgeSocket}`, ''].join('\n'),
    );
    writeFileSync(
      join(lab.dir, 'edgefleet.yaml'),
      [
        'inventory: inventory.ini',
        'db: edgefleet.db',
        'ssh:',
        `  knownHostsFile: ${lab.fleet.knownHostsFile}`,
        'deploy:',
        '  graceSeconds: 1',
        '  stopTimeoutSeconds: 2',
        '  engineTimeoutSeconds: 2',
        '  leaseSeconds: 2',
        'api:',
        `  keys: [${API_KEY}]`,
        'registries:',
        '  - name: lab',
        `    url: ${lab.registry.url}`,
        '    insecure: true',
        '',
      ].join('\n'),
    );
    config = loadConfig({ file: join(lab.dir, 'edgefleet.yaml'), env: {} });
    db = openDb(config.db);
    pool = new TransportPool({ knownHostsFile: config.ssh.knownHostsFile, acceptNewHostKeys: false, privateKeyFile: '', agentSocket: '', user: 'root', connectTimeoutMs: 3000 });
    for (const v of ['v1', 'v2', 'v3']) await pushModelImage(lab.registry.push, SERVER, v, { entrypoint: ['sh', '-c', serverScript(v)] });
    await pushModelImage(lab.registry.push, SERVER, 'broken', { entrypoint: ['sh', '-c', 'echo weights missing >&2; exit 3'] });
    for (const v of ['v1', 'v2', 'v3', 'v4', 'v5']) await pushModelImage(lab.registry.push, SLEEPER, v, { entrypoint: ['sh', '-c', SLEEP], labels: { 'org.opencontainers.image.version': v } });
  });

  after(async () => {
    await pool?.closeAll();
    db?.close();
    for (const s of wedged) s.destroy();
    wedge?.close();
    await lab?.close();
    if (wedgeDir) rmSync(wedgeDir, { recursive: true, force: true });
  });

  const deps = (): DeployDeps => ({ db, config, pool, log: silentLogger, inventory: inventoryNodes(config) });
  const deploy = async (body: Record<string, unknown>): Promise<DeploymentSummary> => {
    const d = await createDeployment(deps(), parseDeployRequest(body, { registries: ['lab'] }));
    return runDeployment(deps(), d.id);
  };
  const serve = (tag: string, extra: Record<string, unknown> = {}) => deploy({ image: `${SERVER}:${tag}`, nodes: ['node01'], ...extra, options: { env: { PORT: String(port) }, restart: 'no', ...(extra.options as object) } });
  /** What answers on the port, as a client sees it. */
  const answer = async () => (await (await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3000) })).text()).trim();
  const serverContainers = () => lab.engine.containers().filter((c) => c.labels['io.edgefleet.model'] === SERVER);
  const states = async (id: string, node = 'node01') => (await deploymentEvents(db, id)).filter((e) => e.node === node).map((e) => e.state).filter((s, i, a) => s !== a[i - 1]);
  const startedAt = (name: string) => lab.engine.podman(['inspect', '--format', '{{.State.StartedAt}}', name]).trim();

  it('defaults: stop-first with host ports, host networking or a GPU; start-first otherwise; the request, then the node var, win', () => {
    const node = (vars: Record<string, unknown>): NodeSpec => ({ name: 'n', groups: [], connection: 'ssh', host: 'h', port: 22, vars });
    const o = { env: {}, ports: [], volumes: [], restart: 'no' as const };
    assert.equal(updateOrder(node({}), o).order, 'start-first');
    assert.equal(updateOrder(node({}), { ...o, ports: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] }).order, 'stop-first');
    assert.equal(updateOrder(node({ edgefleet_network_mode: 'host' }), o).order, 'stop-first');
    assert.equal(updateOrder(node({ edgefleet_gpus: 'all' }), o).order, 'stop-first');
    assert.equal(updateOrder(node({ edgefleet_gpus: 'all', edgefleet_update_order: 'start-first' }), o).order, 'start-first');
    assert.equal(updateOrder(node({ edgefleet_update_order: 'start-first' }), { ...o, order: 'stop-first' }).order, 'stop-first');
    assert.throws(() => updateOrder(node({ edgefleet_update_order: 'sideways' }), o), /edgefleet_update_order: "sideways" is not stop-first or start-first/);
  });

  it('a server on a fixed port redeployed to a new tag: stop-first, the new one answers on the port, the old one is removed', async () => {
    const first = await serve('v1');
    assert.equal(first.nodes[0]!.state, 'running', JSON.stringify(first.nodes));
    assert.equal(await answer(), 'v1');
    const s = await serve('v2');
    assert.equal(s.status, 'succeeded', JSON.stringify(s.nodes));
    assert.equal(s.nodes[0]!.order, 'stop-first');
    assert.equal(await answer(), 'v2');
    assert.deepEqual(serverContainers().map((c) => [c.name, c.state]), [[`edgefleet-lab_server-v2-${s.id}`, 'running']]);
    assert.deepEqual(await states(s.id), ['queued', 'pulling', 'creating', 'stopping', 'starting', 'verifying', 'replacing', 'running']);
    assert.equal((await deploymentNodes(db, s.id))[0]!.updateOrder, 'stop-first');
    assert.match((await deploymentEvents(db, s.id)).find((e) => e.state === 'creating')!.message!, /^stop-first \(host networking\): creating edgefleet-lab_server-v2-/);
  });

  it('start-first on that fixed port is what broke: the new server cannot bind, the old one never stopped', async () => {
    const before = serverContainers();
    const since = startedAt(before[0]!.name);
    const s = await serve('v3', { options: { order: 'start-first' } });
    assert.equal(s.nodes[0]!.state, 'rolled_back');
    assert.match(s.nodes[0]!.error!, /Address already in use|exited with code/);
    assert.equal(await answer(), 'v2');
    assert.deepEqual(serverContainers().map((c) => c.name), before.map((c) => c.name));
    assert.equal(startedAt(before[0]!.name), since, 'the old server was never restarted');
  });

  it('a new tag whose container exits: rolled back, the old server starts again and answers on the port', async () => {
    const before = serverContainers();
    const s = await serve('broken');
    assert.equal(s.nodes[0]!.state, 'rolled_back', JSON.stringify(s.nodes));
    assert.match(s.nodes[0]!.error!, /exited with code 3 within 1 s.*weights missing.*runs again/s);
    assert.equal(await answer(), 'v2');
    assert.deepEqual(serverContainers().map((c) => [c.name, c.state]), before.map((c) => [c.name, 'running']));
    assert.deepEqual(await states(s.id), ['queued', 'pulling', 'creating', 'stopping', 'starting', 'verifying', 'restoring', 'rolled_back']);
  });

  it('a tag that does not exist: failed at the pull, the old server untouched (never stopped)', async () => {
    const before = serverContainers();
    const since = startedAt(before[0]!.name);
    const s = await serve('v9');
    assert.equal(s.nodes[0]!.state, 'failed');
    assert.match(s.nodes[0]!.error!, /manifest unknown|not found|does not exist/i);
    assert.equal(await answer(), 'v2');
    assert.equal(startedAt(before[0]!.name), since);
    assert.ok(!(await states(s.id)).includes('stopping'));
  });

  it('start-first still works for a model without ports: the new one runs beside the old one, then the old one goes', async () => {
    const first = await deploy({ image: `${SLEEPER}:v1`, nodes: ['plain'] });
    assert.equal(first.nodes[0]!.state, 'running', JSON.stringify(first.nodes));
    const s = await deploy({ image: `${SLEEPER}:v2`, nodes: ['plain'] });
    assert.equal(s.nodes[0]!.state, 'running', JSON.stringify(s.nodes));
    assert.equal(s.nodes[0]!.order, 'start-first');
    assert.deepEqual(await states(s.id, 'plain'), ['queued', 'pulling', 'creating', 'starting', 'verifying', 'replacing', 'running']);
    const ev = (await deploymentEvents(db, s.id)).filter((e) => e.node === 'plain');
    assert.ok(ev.find((e) => e.state === 'replacing')!.timeUnixMs - ev.find((e) => e.state === 'starting')!.timeUnixMs >= 1000, 'both ran through the grace period');
    assert.deepEqual(lab.engine.containers().filter((c) => c.labels['io.edgefleet.model'] === SLEEPER).map((c) => [c.name, c.state]), [[`edgefleet-lab_sleeper-v2-${s.id}`, 'running']]);
  });

  it('an engine socket that accepts and never answers: that node fails within its deadline, the other one deploys', async () => {
    const t = performance.now();
    const s = await deploy({ image: `${SLEEPER}:v1`, nodes: ['wedged', 'plain'] });
    const ms = performance.now() - t;
    const by = Object.fromEntries(s.nodes.map((n) => [n.node, n]));
    assert.equal(by.wedged!.state, 'failed');
    assert.match(by.wedged!.error!, /no answer from the engine at .*docker\.sock within 2000 ms/);
    assert.ok(by.wedged!.durationMs < 4000, `wedged node took ${by.wedged!.durationMs} ms`);
    assert.equal(by.plain!.state, 'running', JSON.stringify(s.nodes));
    assert.ok(ms < 20_000, `${ms} ms`);
    assert.ok(wedged.length >= 1, 'the request reached the wedged socket');
    // The abort destroyed the request's SSH channel; sshd then closes its end of the socket.
    for (let i = 0; i < 40 && closedWedged < wedged.length; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(closedWedged, wedged.length, 'every aborted request closed its connection');
  });

  it('two deployments of one model to one node at once: serialised, both recorded, the later one runs', async () => {
    const a = await createDeployment(deps(), parseDeployRequest({ image: `${SLEEPER}:v3`, nodes: ['plain'] }, { registries: ['lab'] }));
    const b = await createDeployment(deps(), parseDeployRequest({ image: `${SLEEPER}:v4`, nodes: ['plain'] }, { registries: ['lab'] }));
    const [sa, sb] = await Promise.all([runDeployment(deps(), a.id), runDeployment(deps(), b.id)]);
    assert.deepEqual([sa.status, sb.status], ['succeeded', 'succeeded'], JSON.stringify([sa.nodes, sb.nodes]));
    const events = async (id: string) => (await deploymentEvents(db, id)).filter((e) => e.node === 'plain');
    const waited = (await events(a.id)).some((e) => /waiting for deployment/.test(e.message ?? '')) ? a.id : b.id;
    const first = waited === a.id ? b.id : a.id;
    assert.ok((await events(waited)).some((e) => e.message === `waiting for deployment ${first} of ${SLEEPER} on plain`), JSON.stringify(await events(waited)));
    const firstDone = (await events(first)).at(-1)!.timeUnixMs;
    assert.ok((await events(waited)).find((e) => e.state === 'pulling')!.timeUnixMs >= firstDone, 'the second started only after the first ended');
    assert.deepEqual(lab.engine.containers().filter((c) => c.labels['io.edgefleet.model'] === SLEEPER).map((c) => [c.labels['io.edgefleet.deployment'], c.state]), [[waited, 'running']]);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM deployment_claims').get() as { n: number }).n, 0, 'no claim left behind');
  });

  describe('the hub process', () => {
    let hub: HubProcess | undefined;
    const hubs: HubProcess[] = [];
    const start = async () => {
      const h = await startHub({ cwd: lab.dir, port: await freePort(), env: env() });
      hubs.push(h);
      return h;
    };
    const env = () => ({ EDGEFLEET_CONFIG: join(lab.dir, 'edgefleet.yaml'), EDGEFLEET_HUB_INTERVAL_SECONDS: '3600' });
    const post = (h: HubProcess, body: unknown) =>
      fetch(`${h.base}/deployments`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': API_KEY }, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
    const get = async (h: HubProcess, id: string) =>
      (await (await fetch(`${h.base}/deployments/${id}`, { headers: { 'x-api-key': API_KEY }, signal: AbortSignal.timeout(5000) })).json()) as { status: string; nodes: { node: string; state: string; error: string | null }[] };
    after(async () => {
      // Every hub started, whatever failed in between.
      await Promise.all(hubs.map((h) => h.kill()));
    });

    it('SIGKILLed mid-deploy: after a restart the deployment is interrupted at its last step, and the node can be deployed to again', async () => {
      hub = await start();
      const r = await post(hub, { image: `${SLEEPER}:v5`, nodes: ['plain'], options: { graceSeconds: 60 } });
      assert.equal(r.status, 202);
      const { id } = (await r.json()) as { id: string };
      for (let i = 0; ; i++) {
        if ((await get(hub, id)).nodes[0]!.state === 'verifying') break;
        assert.ok(i < 300, 'never reached verifying');
        await sleep(100);
      }
      await hub.kill();
      hub = await start();
      let d = await get(hub, id);
      for (let i = 0; d.status === 'running'; i++) {
        assert.ok(i < 100, 'still running 10 s after the kill');
        await sleep(100);
        d = await get(hub, id);
      }
      assert.equal(d.status, 'interrupted');
      assert.equal(d.nodes[0]!.state, 'interrupted');
      assert.match(d.nodes[0]!.error!, /^interrupted at verifying: the process running the deployment stopped/);
      // Its claim died with it: the next deployment of the model to the node does not wait, and
      // replaces what the interrupted one left.
      const s = await deploy({ image: `${SLEEPER}:v2`, nodes: ['plain'] });
      assert.equal(s.nodes[0]!.state, 'running', JSON.stringify(s.nodes));
      assert.ok(!(await deploymentEvents(db, s.id)).some((e) => /waiting for/.test(e.message ?? '')));
      assert.deepEqual(lab.engine.containers().filter((c) => c.labels['io.edgefleet.model'] === SLEEPER).map((c) => [c.labels['io.edgefleet.deployment'], c.state]), [[s.id, 'running']]);
      await hub.kill();
      hub = undefined;
    });

    it('SIGTERM while a deployment waits on a wedged engine: the hub stops within 5 s', async () => {
      hub = await start();
      const before = wedged.length;
      const r = await post(hub, { image: `${SLEEPER}:v4`, nodes: ['wedged'] });
      assert.equal(r.status, 202);
      const { id } = (await r.json()) as { id: string };
      for (let i = 0; wedged.length === before; i++) {
        assert.ok(i < 100, 'the deployment never reached the wedged engine');
        await sleep(50);
      }
      const t = performance.now();
      hub.child.kill('SIGTERM');
      const exit = await hub.exited;
      const ms = performance.now() - t;
      assert.ok(ms < 5000, `stopped after ${ms} ms`);
      assert.equal(exit.code, 0, hub.stderr());
      hub = undefined;
      const row = db.prepare('SELECT status FROM deployments WHERE id = ?').get(id) as { status: string };
      assert.equal(row.status, 'failed', 'it ended (the engine call aborted), not left running');
    });
  });
});
