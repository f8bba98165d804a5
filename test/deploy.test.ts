/**
 * Model deployment end to end, real parts only: Debian's docker-registry on loopback holding
 * model images built here from a static busybox rootfs; two OpenSSH test nodes, each with its
 * own Podman API service as its container engine, reached by SSH stream-local forwarding
 * (dockerode over the SSH transport's tunnel); then the hub's HTTP routes with an API key.
 * Plus the request checks (pure).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inventoryNodes } from '../shared/collect/collection.js';
import { loadConfig, type Config } from '../shared/config/config.js';
import { checkDeployPolicy, containerName, containerSpec, createDeployment, DeployInputError, gpuRequests, parseDeployRequest, runDeployment, type DeployDeps, type DeploymentSummary } from '../shared/deploy/index.js';
import { DEPLOY_LABELS, silentLogger, type DeployRequest } from '../shared/domain/index.js';
import { deploymentEvents, deploymentNodes, getDeployment, openDb, type Db } from '../shared/store/index.js';
import { TransportPool } from '../shared/transport/pool.js';
import { pushModelImage, startPodman, type PodmanEngine } from './harness/podman.js';
import { freePort } from './harness/ports.js';
import { startRegistry, type TestRegistry } from './harness/registry.js';
import { startFleet, type Fleet } from './harness/sshFleet.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'edgefleet.js');
const API_KEY = 'test-key-0123456789abcdef';
const REPO = 'lab/detector';

function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

describe('deployment requests (pure)', () => {
  const defaults = { registries: ['lab'] };
  it('takes image or model and tag, nodes or group, and options', () => {
    const r = parseDeployRequest({ image: 'lab/yolo:v8', nodes: ['a', 'b'], options: { env: { MODEL: 'x' }, ports: ['8080:80', '127.0.0.1:9000:9000/udp'], volumes: ['/data/m:/models:ro', 'cache:/cache'], restart: 'always', graceSeconds: 2 } }, defaults);
    assert.deepEqual(r, {
      action: 'deploy', registry: 'lab', repository: 'lab/yolo', tag: 'v8', nodes: ['a', 'b'],
      options: {
        env: { MODEL: 'x' },
        ports: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, { hostIp: '127.0.0.1', hostPort: 9000, containerPort: 9000, protocol: 'udp' }],
        volumes: [{ source: '/data/m', target: '/models', readOnly: true }, { source: 'cache', target: '/cache', readOnly: false }],
        restart: 'always', graceSeconds: 2,
      },
    });
    assert.deepEqual(parseDeployRequest({ model: 'lab/yolo', tag: 'v8', group: 'jetsons' }, defaults).group, 'jetsons');
  });
  const bad: [string, unknown, RegExp][] = [
    ['a registry host in the image', { image: '127.0.0.1:5000/lab/yolo:v8', nodes: ['a'] }, /image: .* is not a model reference/],
    ['uppercase repository', { image: 'Lab/Yolo:v8', nodes: ['a'] }, /image/],
    ['shell in the tag', { model: 'lab/yolo', tag: 'v8;rm -rf /', nodes: ['a'] }, /tag: .* is not a tag/],
    ['no tag', { image: 'lab/yolo', nodes: ['a'] }, /a tag is needed/],
    ['node name with a space', { image: 'lab/yolo:v8', nodes: ['a b'] }, /nodes: "a b" is not an inventory host name/],
    ['both nodes and group', { image: 'lab/yolo:v8', nodes: ['a'], group: 'g' }, /either nodes .* or group/],
    ['neither', { image: 'lab/yolo:v8' }, /either nodes/],
    ['a bad port', { image: 'lab/yolo:v8', nodes: ['a'], options: { ports: ['80'] } }, /ports: "80"/],
    ['a relative volume', { image: 'lab/yolo:v8', nodes: ['a'], options: { volumes: ['../etc:/etc'] } }, /volumes/],
    ['a volume escaping with ..', { image: 'lab/yolo:v8', nodes: ['a'], options: { volumes: ['/data/../etc:/etc'] } }, /volumes/],
    ['an env name with =', { image: 'lab/yolo:v8', nodes: ['a'], options: { env: { 'A=B': 'x' } } }, /options.env: "A=B"/],
    ['an unknown option', { image: 'lab/yolo:v8', nodes: ['a'], options: { capAdd: ['SYS_ADMIN'] } }, /unknown field "capAdd"/],
    ['an unknown update order', { image: 'lab/yolo:v8', nodes: ['a'], options: { order: 'rolling' } }, /options.order: one of stop-first, start-first/],
    ['an unknown registry', { image: 'lab/yolo:v8', nodes: ['a'], registry: 'other' }, /no registry named "other"/],
  ];
  for (const [name, body, re] of bad) it(`refuses ${name}`, () => assert.throws(() => parseDeployRequest(body, defaults), (e: Error) => e instanceof DeployInputError && re.test(e.message)));

  describe('what a request may ask of a node (deploy.allowedBindMounts, allowEngineSocket, allowPrivileged, allowHostPid)', () => {
    const node = { name: 'a', groups: [], connection: 'ssh' as const, host: 'x', port: 22, vars: { edgefleet_engine_socket: '/srv/engine/podman.sock' } };
    const closed = { allowedBindMounts: [] as string[], allowEngineSocket: false, allowPrivileged: false, allowHostPid: false, engineSocket: '/var/run/docker.sock' };
    const check = (options: unknown, policy: Partial<typeof closed> = {}) => checkDeployPolicy(parseDeployRequest({ image: 'lab/yolo:v8', nodes: ['a'], options }, defaults), [node], { ...closed, ...policy });
    const refused = (options: unknown, policy: Partial<typeof closed>, re: RegExp) => assert.throws(() => check(options, policy), (e: Error) => e instanceof DeployInputError && re.test(e.message), JSON.stringify(options));
    it('a bind mount of / is refused by the bind-mount rule; named volumes always pass', () => {
      refused({ volumes: ['/:/host'] }, {}, /options.volumes: "\/:\/host" binds host path \/, which is not under deploy.allowedBindMounts \(none configured\)/);
      refused({ volumes: ['/etc:/etc:ro'] }, { allowedBindMounts: ['/data/models'] }, /not under deploy.allowedBindMounts \(\/data\/models\)/);
      refused({ volumes: ['/data/models-old:/m'] }, { allowedBindMounts: ['/data/models'] }, /not under deploy.allowedBindMounts/);
      check({ volumes: ['cache:/cache'] });
      check({ volumes: ['/data/models:/models:ro', '/data/models/yolo//:/y'] }, { allowedBindMounts: ['/data/models/'] });
    });
    it('a path holding an engine socket is refused even when allowed, unless allowEngineSocket', () => {
      refused({ volumes: ['/:/host'] }, { allowedBindMounts: ['/'] }, /engine socket \/var\/run\/docker\.sock \(root on the node\); refused unless deploy.allowEngineSocket/);
      refused({ volumes: ['/run:/run'] }, { allowedBindMounts: ['/'] }, /engine socket/);
      refused({ volumes: ['/srv/engine:/e'] }, { allowedBindMounts: ['/srv'] }, /engine socket \/srv\/engine\/podman\.sock/);
      refused({ volumes: ['/opt/x/docker.sock:/var/run/docker.sock'] }, { allowedBindMounts: ['/opt'] }, /engine socket/);
      check({ volumes: ['/var/run/docker.sock:/var/run/docker.sock'] }, { allowedBindMounts: ['/var/run/docker.sock'], allowEngineSocket: true });
    });
    it('privileged and the host PID namespace only when the config allows them', () => {
      refused({ privileged: true }, {}, /options.privileged: .*refused unless deploy.allowPrivileged/);
      refused({ pidMode: 'host' }, {}, /options.pidMode: .*refused unless deploy.allowHostPid/);
      check({ privileged: true, pidMode: 'host' }, { allowPrivileged: true, allowHostPid: true });
      check({ privileged: false });
    });
  });

  it('container names: a long repository and tag are cut, never the deployment id', () => {
    const repo = 'lab/' + 'a'.repeat(250);
    const tag = 'b'.repeat(128);
    const one = containerName(repo, tag, '0123456789ab');
    const two = containerName(repo, tag, 'ba9876543210');
    assert.ok(one.length <= 200 && one.endsWith('-0123456789ab'), one);
    assert.notEqual(one, two);
    assert.equal(containerName('lab/yolo', 'v8', '0123456789ab'), 'edgefleet-lab_yolo-v8-0123456789ab');
  });

  it('GPUs: device requests from edgefleet_gpus, the nvidia runtime from edgefleet_container_runtime', () => {
    assert.deepEqual(gpuRequests('all'), [{ Driver: 'nvidia', Capabilities: [['gpu']], Count: -1 }]);
    assert.deepEqual(gpuRequests(2), [{ Driver: 'nvidia', Capabilities: [['gpu']], Count: 2 }]);
    assert.deepEqual(gpuRequests('0,1'), [{ Driver: 'nvidia', Capabilities: [['gpu']], DeviceIDs: ['0', '1'] }]);
    assert.equal(gpuRequests(undefined), undefined);
    const node = { name: 'jetson-01', groups: [], connection: 'ssh' as const, host: 'x', port: 22, vars: { edgefleet_container_runtime: 'nvidia' } };
    const spec = containerSpec({ node, image: 'r:5000/lab/yolo:v8', registry: 'lab', repository: 'lab/yolo', tag: 'v8', digest: 'sha256:' + 'a'.repeat(64), deploymentId: '0123456789ab', options: { env: { A: '1' }, ports: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], volumes: [], restart: 'unless-stopped' } });
    assert.equal(spec.name, 'edgefleet-lab_yolo-v8-0123456789ab');
    assert.equal(spec.HostConfig?.Runtime, 'nvidia');
    assert.deepEqual(spec.HostConfig?.PortBindings, { '80/tcp': [{ HostPort: '8080' }] });
    assert.deepEqual(spec.Labels, { [DEPLOY_LABELS.model]: 'lab/yolo', [DEPLOY_LABELS.tag]: 'v8', [DEPLOY_LABELS.registry]: 'lab', [DEPLOY_LABELS.deployment]: '0123456789ab', [DEPLOY_LABELS.digest]: 'sha256:' + 'a'.repeat(64) });
  });
});

describe('deploy to Podman engines over SSH', { timeout: 240_000 }, () => {
  let dir: string;
  let registry: TestRegistry;
  let fleet: Fleet;
  let engines: PodmanEngine[] = [];
  let config: Config;
  let db: Db;
  let pool: TransportPool;
  let digests: Record<string, string>;
  const configFile = () => join(dir, 'edgefleet.yaml');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-deploy-'));
    registry = await startRegistry();
    const host = new URL(registry.url).host;
    fleet = await startFleet({ count: 2 });
    engines = await Promise.all(fleet.nodes.map(() => startPodman({ insecureRegistries: [host], socketOwner: fleet.nodes[0]!.user })));
    const v1 = await pushModelImage(registry.push, REPO, 'v1', { entrypoint: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'], labels: { 'io.edgefleet.model.task': 'object-detection' }, weightsBytes: 200_000 });
    const v2 = await pushModelImage(registry.push, REPO, 'v2', { entrypoint: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'], labels: { 'org.opencontainers.image.version': '2' }, weightsBytes: 300_000 });
    const bad = await pushModelImage(registry.push, REPO, 'bad', { entrypoint: ['sh', '-c', 'echo model file missing >&2; exit 3'] });
    digests = { v1: v1.digest, v2: v2.digest, bad: bad.digest };
    // node03: nothing listens there.
    const closedPort = await freePort();
    const lines = ['[edge]'];
    fleet.nodes.forEach((n, i) => lines.push(`${n.name} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile} edgefleet_engine_socket=${engines[i]!.socketPath} edgefleet_network_mode=host`));
    lines.push('[offline]', `node03 ansible_host=127.0.0.1 ansible_port=${closedPort} ansible_user=${fleet.nodes[0]!.user} ansible_ssh_private_key_file=${fleet.clientKeyFile}`);
    writeFileSync(join(dir, 'inventory.ini'), lines.join('\n') + '\n');
    writeFileSync(
      configFile(),
      [
        'inventory: inventory.ini',
        'db: edgefleet.db',
        'ssh:',
        `  knownHostsFile: ${fleet.knownHostsFile}`,
        'collect:',
        '  connectTimeoutSeconds: 3',
        'deploy:',
        '  graceSeconds: 1',
        '  stopTimeoutSeconds: 2',
        '  pullTimeoutSeconds: 60',
        'api:',
        `  keys: [${API_KEY}]`,
        'registries:',
        '  - name: lab',
        `    url: ${registry.url}`,
        '    insecure: true',
        '',
      ].join('\n'),
    );
    config = loadConfig({ file: configFile(), env: {} });
    db = openDb(config.db);
    pool = new TransportPool({ knownHostsFile: config.ssh.knownHostsFile, acceptNewHostKeys: false, privateKeyFile: '', agentSocket: '', user: 'root', connectTimeoutMs: 3000 });
  });

  after(async () => {
    await pool?.closeAll();
    db?.close();
    await Promise.allSettled(engines.map((e) => e.close()));
    await fleet?.close();
    await registry?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const deps = (): DeployDeps => ({ db, config, pool, log: silentLogger, inventory: inventoryNodes(config) });
  const deploy = async (body: Record<string, unknown>): Promise<DeploymentSummary> => {
    const req: DeployRequest = parseDeployRequest(body, { registries: ['lab'] });
    const d = await createDeployment(deps(), req);
    return within(90_000, runDeployment(deps(), d.id), `deployment ${JSON.stringify(body)}`);
  };
  const running = (e: PodmanEngine) => e.containers().filter((c) => c.state === 'running');

  it('deploys a model image to 2 nodes: both running, events in order with pull progress', async () => {
    const s = await deploy({ image: `${REPO}:v1`, nodes: ['node01', 'node02'], options: { env: { MODEL_NAME: 'detector' } } });
    assert.equal(s.status, 'succeeded', JSON.stringify(s.nodes));
    assert.equal(s.digest, digests.v1);
    assert.deepEqual(s.nodes.map((n) => [n.node, n.state]), [['node01', 'running'], ['node02', 'running']]);
    for (const e of engines) {
      const [c, ...more] = running(e);
      assert.equal(more.length, 0);
      assert.equal(c!.name, `edgefleet-lab_detector-v1-${s.id}`);
      assert.equal(c!.labels[DEPLOY_LABELS.model], REPO);
      assert.equal(c!.labels[DEPLOY_LABELS.tag], 'v1');
      assert.equal(c!.labels[DEPLOY_LABELS.deployment], s.id);
      assert.equal(c!.labels[DEPLOY_LABELS.digest], digests.v1);
    }
    const events = await deploymentEvents(db, s.id);
    for (const node of ['node01', 'node02']) {
      const mine = events.filter((e) => e.node === node);
      const states = mine.map((e) => e.state).filter((st, i, a) => st !== a[i - 1]);
      assert.deepEqual(states, ['queued', 'pulling', 'creating', 'starting', 'verifying', 'running'], node);
      const pct = mine.filter((e) => e.state === 'pulling').map((e) => e.progressPercent!);
      assert.equal(pct[0], 0);
      assert.equal(pct.at(-1), 100);
      assert.ok(pct.length >= 2);
      assert.deepEqual(pct, [...pct].sort((a, b) => a - b), 'progress never goes back');
      const times = mine.map((e) => e.timeUnixMs);
      assert.deepEqual(times, [...times].sort((a, b) => a - b));
      const verifying = mine.find((e) => e.state === 'verifying')!.timeUnixMs;
      assert.ok(mine.at(-1)!.timeUnixMs - verifying >= 1000, 'the grace period was waited for');
    }
    const rows = await deploymentNodes(db, s.id);
    assert.ok(rows.every((r) => r.state === 'running' && r.finishedUnixSeconds !== null && r.containerId));
    assert.equal((await getDeployment(db, s.id))!.status, 'succeeded');
  });

  it('re-deploying the same digest is a no-op', async () => {
    const before = engines.map((e) => running(e).map((c) => c.name));
    const s = await deploy({ image: `${REPO}:v1`, group: 'edge' });
    assert.deepEqual(s.nodes.map((n) => n.state), ['unchanged', 'unchanged']);
    assert.deepEqual(engines.map((e) => running(e).map((c) => c.name)), before);
    assert.ok(!(await deploymentEvents(db, s.id)).some((e) => e.state === 'pulling'));
  });

  it('a new tag replaces the old container (stop-first with host networking)', async () => {
    const old = engines.map((e) => running(e)[0]!.name);
    const s = await deploy({ image: `${REPO}:v2`, group: 'edge' });
    assert.equal(s.status, 'succeeded', JSON.stringify(s.nodes));
    for (const [i, e] of engines.entries()) {
      const all = e.containers();
      assert.deepEqual(all.map((c) => [c.name, c.state]), [[`edgefleet-lab_detector-v2-${s.id}`, 'running']]);
      assert.ok(!all.some((c) => c.name === old[i]));
    }
    for (const node of ['node01', 'node02']) {
      const states = (await deploymentEvents(db, s.id)).filter((e) => e.node === node).map((e) => e.state).filter((st, i, a) => st !== a[i - 1]);
      // Host networking (edgefleet_network_mode=host): stop-first.
      assert.deepEqual(states, ['queued', 'pulling', 'creating', 'stopping', 'starting', 'verifying', 'replacing', 'running'], node);
    }
    assert.ok((await deploymentNodes(db, s.id)).every((n) => n.previousContainerId && n.updateOrder === 'stop-first'));
  });

  it('a tag that does not exist fails with the registry’s reason; the old container keeps running, the other node is untouched', async () => {
    const before = engines.map((e) => running(e).map((c) => c.name));
    const s = await deploy({ image: `${REPO}:v9`, nodes: ['node01'] });
    assert.equal(s.status, 'failed');
    assert.equal(s.nodes[0]!.state, 'failed');
    assert.match(s.nodes[0]!.error!, /manifest unknown|not found|does not exist/i);
    assert.match((await deploymentNodes(db, s.id))[0]!.error!, /pull 127\.0\.0\.1:\d+\/lab\/detector:v9/);
    assert.deepEqual(engines.map((e) => running(e).map((c) => c.name)), before);
  });

  it('a new container that exits at once is rolled back with its reason; the old one keeps running', async () => {
    const before = engines.map((e) => running(e).map((c) => c.name));
    const s = await deploy({ image: `${REPO}:bad`, nodes: ['node01', 'node02'], options: { restart: 'no' } });
    assert.equal(s.status, 'failed');
    for (const n of s.nodes) {
      assert.equal(n.state, 'rolled_back');
      assert.match(n.error!, /exited with code 3 within 1 s/);
      assert.match(n.error!, /model file missing/);
    }
    assert.deepEqual(engines.map((e) => e.containers().map((c) => c.name)), before, 'the failed containers are removed, the old ones run');
    assert.deepEqual(engines.map((e) => running(e).map((c) => c.name)), before);
  });

  it('one node failing never stops the others', async () => {
    const s = await deploy({ image: `${REPO}:v1`, nodes: ['node03', 'node01'], options: { concurrency: 1 } });
    assert.equal(s.status, 'partial');
    const by = Object.fromEntries(s.nodes.map((n) => [n.node, n]));
    assert.equal(by.node03!.state, 'failed');
    assert.match(by.node03!.error!, /cannot connect|ECONNREFUSED/);
    assert.equal(by.node01!.state, 'running');
  });

  it('stop, start and remove act on the model’s container', async () => {
    let s = await deploy({ action: 'stop', model: REPO, nodes: ['node02'] });
    assert.equal(s.nodes[0]!.state, 'stopped');
    assert.equal(running(engines[1]!).length, 0);
    s = await deploy({ action: 'start', model: REPO, nodes: ['node02'] });
    assert.equal(s.nodes[0]!.state, 'started');
    assert.equal(running(engines[1]!).length, 1);
    s = await deploy({ action: 'remove', model: REPO, nodes: ['node02'] });
    assert.equal(s.nodes[0]!.state, 'removed');
    assert.equal(engines[1]!.containers().length, 0);
    s = await deploy({ action: 'pull', image: `${REPO}:v2`, nodes: ['node02'] });
    assert.equal(s.nodes[0]!.state, 'pulled');
  });

  it('the CLI: edgefleet deploy with plain progress lines, --json, and edgefleet deployments', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('EDGEFLEET_')));
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [BIN, ...args, '--config', configFile()], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        c.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        c.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        c.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
    const r = await within(60_000, run(['deploy', `${REPO}:v2`, '--nodes', 'node02', '--env', 'A=1', '--grace', '1']), 'edgefleet deploy');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /node02 pulling 100%/);
    assert.match(r.stderr, /node02 running/);
    const id = /deployment ([0-9a-f]{12}) succeeded/.exec(r.stdout)?.[1];
    assert.ok(id, r.stdout);
    const bad = await run(['deploy', 'lab/detector:v2;reboot', '--nodes', 'node02']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /image: .* is not a model reference/);
    const list = await run(['deployments', '--json']);
    assert.equal((JSON.parse(list.stdout) as { id: string }[])[0]!.id, id);
    const one = await run(['deployments', id!]);
    assert.match(one.stdout, /node02 +running/);
  });

  describe('the hub: POST /deployments and GET /deployments/{id}', () => {
    let hub: ChildProcess;
    let base: string;
    let stderr = '';
    before(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('EDGEFLEET_')));
      hub = spawn(process.execPath, [BIN, 'hub', '--config', configFile(), '--port', String(port), '--interval', '3600'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
      hub.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const deadline = Date.now() + 20_000;
      for (;;) {
        if (hub.exitCode !== null) throw new Error(`hub exited: ${stderr}`);
        try {
          if ((await fetch(`${base}/health`, { signal: AbortSignal.timeout(1000) })).ok) break;
        } catch {
          /* not yet */
        }
        if (Date.now() > deadline) throw new Error(`hub not up: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    after(async () => {
      if (hub && hub.exitCode === null) {
        const exited = new Promise((r) => hub.once('exit', r));
        hub.kill('SIGTERM');
        await within(30_000, exited, 'hub exit');
      }
    });
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${base}/deployments`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });

    it('refuses a request without the key, or with a wrong one', async () => {
      const r = await post({ image: `${REPO}:v2`, nodes: ['node01'] });
      assert.equal(r.status, 401);
      assert.equal((await post({ image: `${REPO}:v2`, nodes: ['node01'] }, { authorization: 'Bearer wrong-key-0123456789' })).status, 401);
      assert.equal((await fetch(`${base}/deployments`)).status, 401);
      assert.ok(!stderr.includes(API_KEY), 'the key is never logged');
    });

    it('refuses a bind mount of / with the rule that refused it', async () => {
      const r = await post({ image: `${REPO}:v2`, nodes: ['node01'], options: { volumes: ['/:/host'] } }, { authorization: `Bearer ${API_KEY}` });
      assert.equal(r.status, 400);
      assert.match(((await r.json()) as { error: string }).error, /options.volumes: "\/:\/host" binds host path \/, which is not under deploy.allowedBindMounts/);
    });

    it('refuses a malformed image reference and unknown nodes', async () => {
      let r = await post({ image: 'lab/detector:v2;reboot', nodes: ['node01'] }, { authorization: `Bearer ${API_KEY}` });
      assert.equal(r.status, 400);
      assert.match(((await r.json()) as { error: string }).error, /image: .* is not a model reference/);
      r = await post({ image: `${REPO}:v2`, nodes: ['nobody'] }, { 'x-api-key': API_KEY });
      assert.equal(r.status, 400);
      assert.match(((await r.json()) as { error: string }).error, /not in the inventory: nobody/);
    });

    it('answers the id at once; GET shows per-node progress until running', async () => {
      const t = Date.now();
      const r = await post({ image: `${REPO}:v2`, nodes: ['node01', 'node02'], options: { graceSeconds: 2 } }, { authorization: `Bearer ${API_KEY}` });
      assert.equal(r.status, 202);
      const { id, status } = (await r.json()) as { id: string; status: string };
      assert.equal(status, 'queued');
      assert.ok(Date.now() - t < 2000, 'answered before the grace period could pass');
      let d: { status: string; nodes: { node: string; state: string }[]; events: { state: string }[] };
      const deadline = Date.now() + 60_000;
      const seen = new Set<string>();
      for (;;) {
        const g = await fetch(`${base}/deployments/${id}`, { headers: { 'x-api-key': API_KEY }, signal: AbortSignal.timeout(5000) });
        assert.equal(g.status, 200);
        d = (await g.json()) as typeof d;
        d.nodes.forEach((n) => seen.add(n.state));
        if (['succeeded', 'failed', 'partial'].includes(d.status)) break;
        assert.ok(Date.now() < deadline, 'deployment did not finish');
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.equal(d.status, 'succeeded', JSON.stringify(d.nodes));
      // node02 already runs v2 (deployed by the CLI above).
      assert.deepEqual(d.nodes.map((n) => [n.node, n.state]), [['node01', 'running'], ['node02', 'unchanged']]);
      assert.ok(seen.has('verifying'), `progress was visible: ${[...seen]}`);
      const list = await fetch(`${base}/deployments?limit=5`, { headers: { 'x-api-key': API_KEY } });
      assert.equal(((await list.json()) as { deployments: { id: string }[] }).deployments[0]!.id, id);
      assert.equal((await fetch(`${base}/deployments/not-an-id`, { headers: { 'x-api-key': API_KEY } })).status, 400);
    });
  });
});
