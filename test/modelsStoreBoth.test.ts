/**
 * The model catalog's and the deployments' store functions (shared/store/models.ts,
 * deployments.ts) on both stores, SQLite and a real PostgreSQL 15: one suite, the same expected
 * values, worked out by hand from what each case writes. Claims, leases and recovery also run
 * as two hubs on one database (two connections / two pools), which only the shared store allows.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { ModelImage } from '../shared/domain/model.js';
import {
  claimDeployment,
  claimNodeModel,
  deploymentEvents,
  deploymentNodes,
  finishDeployment,
  getDeployment,
  insertDeployment,
  listDeployments,
  listModels,
  markRepositoriesRemoved,
  modelRegistries,
  recordNodeStep,
  recordRegistryAttempt,
  recordRegistryResult,
  recoverInterruptedDeployments,
  registrySyncStates,
  releaseNodeModel,
  renewLease,
  saveRepositorySync,
  setModelDescription,
  storedTags,
  type NewDeployment,
} from '../shared/store/index.js';
import { eachStore } from './harness/stores.js';

const D = (c: string) => 'sha256:' + c.repeat(64);
const image = (tag: string, digest: string, extra: Partial<ModelImage> = {}): ModelImage => ({
  repository: 'models/yolo',
  tag,
  digest,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  platforms: [
    { platform: 'linux/amd64', os: 'linux', architecture: 'amd64', digest: D('1'), sizeBytes: 3500 },
    { platform: 'linux/arm64/v8', os: 'linux', architecture: 'arm64', variant: 'v8', digest: D('2'), sizeBytes: 4200 },
  ],
  sizeBytes: 4200,
  createdUnixSeconds: 1_717_198_200,
  title: 'YOLOv8n',
  description: 'Real-time object detection',
  task: 'object-detection',
  labels: { 'org.opencontainers.image.title': 'YOLOv8n' },
  ...extra,
});
const sync = (repository: string, images: ModelImage[], tags: string[], o: { unchanged?: string[]; errors?: [string, string][] } = {}) => ({
  repository, images, unchanged: o.unchanged ?? [], errors: new Map(o.errors ?? []), tagsComplete: true, tags,
});

const OPTIONS = { env: {}, ports: [], volumes: [], restart: 'no' as const };
const deployment = (id: string, nowMs: number, extra: Partial<NewDeployment> = {}): NewDeployment => ({
  id, action: 'deploy', registry: 'lab', repository: 'models/yolo', tag: 'v8', image: 'r:5000/models/yolo:v8', target: { nodes: ['a', 'b'] }, options: OPTIONS, nodes: ['a', 'b'], nowMs, ...extra,
});
const T = 1_790_000_000_000; // ms

eachStore('model catalog', (k) => {
  it('stores a repository sync: tags with their platforms, a broken tag with its error, a tag gone marked removed', async () => {
    const s = await k.open();
    let r = await saveRepositorySync(s.sql, 'lab', sync('models/yolo', [image('v7', D('a')), image('v8', D('b'))], ['v7', 'v8', 'broken'], { errors: [['broken', 'config is not JSON']] }), 1000);
    assert.deepEqual(r.removed, []);
    const all = await listModels(s.sql, { includeRemoved: true });
    assert.deepEqual(all.map((m) => [m.tag, m.digest, m.error, m.firstSeenUnixSeconds, m.removedUnixSeconds]), [
      ['broken', null, 'config is not JSON', 1000, null],
      ['v7', D('a'), null, 1000, null],
      ['v8', D('b'), null, 1000, null],
    ]);
    const v8 = all[2]!;
    assert.deepEqual(v8.platforms, [
      { platform: 'linux/amd64', os: 'linux', architecture: 'amd64', digest: D('1'), sizeBytes: 3500 },
      { platform: 'linux/arm64/v8', os: 'linux', architecture: 'arm64', variant: 'v8', digest: D('2'), sizeBytes: 4200 },
    ]);
    assert.deepEqual([v8.sizeBytes, v8.title, v8.description, v8.labelDescription, v8.labels], [4200, 'YOLOv8n', 'Real-time object detection', 'Real-time object detection', { 'org.opencontainers.image.title': 'YOLOv8n' }]);
    assert.deepEqual(await storedTags(s.sql, 'lab'), new Map([
      ['models/yolo\0broken', { digest: null, error: 'config is not JSON', removed: false }],
      ['models/yolo\0v7', { digest: D('a'), error: null, removed: false }],
      ['models/yolo\0v8', { digest: D('b'), error: null, removed: false }],
    ]));
    // At 2000: v7 unchanged, v8 pushed again with one platform, broken gone from the list.
    const v8new = image('v8', D('c'), { platforms: [{ platform: 'linux/arm64/v8', os: 'linux', architecture: 'arm64', variant: 'v8', digest: D('3'), sizeBytes: 4300 }] });
    r = await saveRepositorySync(s.sql, 'lab', sync('models/yolo', [v8new], ['v7', 'v8'], { unchanged: ['v7'] }), 2000);
    assert.deepEqual(r.removed, ['broken']);
    const [v7b, v8b] = await listModels(s.sql);
    assert.deepEqual([v7b!.tag, v7b!.lastSeenUnixSeconds, v7b!.updatedUnixSeconds], ['v7', 2000, 1000], 'unchanged: seen, not updated');
    assert.deepEqual([v8b!.digest, v8b!.updatedUnixSeconds, v8b!.firstSeenUnixSeconds, v8b!.platforms.map((p) => [p.platform, p.sizeBytes])], [D('c'), 2000, 1000, [['linux/arm64/v8', 4300]]]);
    assert.equal((await listModels(s.sql, { tag: 'broken', includeRemoved: true }))[0]!.removedUnixSeconds, 2000);
    // The same digest again: updated stays.
    await saveRepositorySync(s.sql, 'lab', sync('models/yolo', [v8new], ['v7', 'v8']), 3000);
    assert.equal((await listModels(s.sql, { tag: 'v8' }))[0]!.updatedUnixSeconds, 2000);
    await s.close();
  });

  it('filters by registry, repository, task and platform (a platform matches its variants only)', async () => {
    const s = await k.open();
    await saveRepositorySync(s.sql, 'lab', sync('models/yolo', [image('v8', D('b'))], ['v8']), 1000);
    const whisper = image('small', D('d'), { repository: 'models/whisper', task: 'speech', platforms: [{ platform: 'linux/arm', os: 'linux', architecture: 'arm', digest: D('4'), sizeBytes: 10 }] });
    await saveRepositorySync(s.sql, 'edge', sync('models/whisper', [whisper], ['small']), 1000);
    const names = (ms: { repository: string; tag: string; registry: string }[]) => ms.map((m) => `${m.registry}/${m.repository}:${m.tag}`);
    assert.deepEqual(names(await listModels(s.sql, { platform: 'linux/arm64' })), ['lab/models/yolo:v8']);
    assert.deepEqual(names(await listModels(s.sql, { platform: 'linux/arm' })), ['edge/models/whisper:small'], 'linux/arm is not a prefix of linux/arm64');
    assert.deepEqual(names(await listModels(s.sql, { platform: 'LINUX/ARM' })), [], 'exact, on both databases');
    assert.deepEqual(names(await listModels(s.sql, { task: 'speech' })), ['edge/models/whisper:small']);
    assert.deepEqual(names(await listModels(s.sql, { registry: 'lab' })), ['lab/models/yolo:v8']);
    assert.deepEqual(await modelRegistries(s.sql, 'models/whisper'), ['edge']);
    assert.deepEqual(await modelRegistries(s.sql, 'models/whisper', 'big'), []);
    assert.deepEqual(await markRepositoriesRemoved(s.sql, 'lab', ['models/other'], 5000), ['models/yolo']);
    assert.deepEqual(names(await listModels(s.sql)), ['edge/models/whisper:small']);
    await s.close();
  });

  it("keeps a person's description apart from the label, per tag or for the repository; '' removes it", async () => {
    const s = await k.open();
    await saveRepositorySync(s.sql, 'lab', sync('models/yolo', [image('v7', D('a')), image('v8', D('b'))], ['v7', 'v8']), 1000);
    await setModelDescription(s.sql, 'lab', 'models/yolo', 'v8', "  Counts people at the gate (it's fast)  ", 1100);
    await setModelDescription(s.sql, 'lab', 'models/yolo', undefined, 'Every YOLO we run', 1200);
    let [v7, v8] = await listModels(s.sql);
    assert.deepEqual(v8!.personDescription, { text: "Counts people at the gate (it's fast)", tag: 'v8', updatedUnixSeconds: 1100 });
    assert.equal(v8!.description, "Counts people at the gate (it's fast)");
    assert.deepEqual([v7!.description, v7!.personDescription?.tag, v7!.labelDescription], ['Every YOLO we run', null, 'Real-time object detection']);
    await setModelDescription(s.sql, 'lab', 'models/yolo', 'v8', '', 1300);
    [, v8] = await listModels(s.sql);
    assert.equal(v8!.description, 'Every YOLO we run');
    await s.close();
  });

  it("records each registry's attempts and results", async () => {
    const s = await k.open();
    await recordRegistryAttempt(s.sql, 'lab', 'http://r:5000', 100);
    await recordRegistryResult(s.sql, 'lab', { complete: true }, 110);
    await recordRegistryAttempt(s.sql, 'lab', 'http://r:5001', 200);
    await recordRegistryResult(s.sql, 'lab', { complete: false, error: 'connect ECONNREFUSED' }, 210);
    assert.deepEqual(await registrySyncStates(s.sql), [
      { name: 'lab', url: 'http://r:5001', lastAttemptUnixSeconds: 200, lastSyncUnixSeconds: 110, lastError: 'connect ECONNREFUSED', lastErrorUnixSeconds: 210 },
    ]);
    await s.close();
  });
});

eachStore('deployments', (k) => {
  it('records a deployment queued, each step of each node with its event, and the end', async () => {
    const s = await k.open();
    await insertDeployment(s.sql, deployment('0123456789ab', T));
    let d = await getDeployment(s.sql, '0123456789ab');
    assert.deepEqual([d!.status, d!.createdUnixSeconds, d!.target, d!.options, d!.startedUnixSeconds], ['queued', T / 1000, { nodes: ['a', 'b'] }, OPTIONS, null]);
    assert.equal(await getDeployment(s.sql, 'ffffffffffff'), undefined);
    assert.ok(await claimDeployment(s.sql, '0123456789ab', 'hub-1', T + 1000, 30_000));
    await recordNodeStep(s.sql, '0123456789ab', 'a', { state: 'pulling', progressPercent: 42.5, message: '425/1000 bytes' }, T + 2000);
    await recordNodeStep(s.sql, '0123456789ab', 'a', { state: 'running', containerId: 'c1', containerName: 'edgefleet-x', updateOrder: 'start-first', final: true }, T + 3000);
    await recordNodeStep(s.sql, '0123456789ab', 'b', { state: 'failed', error: 'pull: manifest unknown', final: true }, T + 3500);
    await finishDeployment(s.sql, '0123456789ab', 'partial', '1 of 2 nodes failed', T + 4000);
    d = await getDeployment(s.sql, '0123456789ab');
    assert.deepEqual([d!.status, d!.error, d!.startedUnixSeconds, d!.finishedUnixSeconds], ['partial', '1 of 2 nodes failed', T / 1000 + 1, T / 1000 + 4]);
    const nodes = await deploymentNodes(s.sql, '0123456789ab');
    assert.deepEqual(nodes.map((n) => [n.node, n.state, n.progressPercent, n.containerId, n.containerName, n.updateOrder, n.error, n.startedUnixSeconds, n.finishedUnixSeconds]), [
      ['a', 'running', 42.5, 'c1', 'edgefleet-x', 'start-first', null, T / 1000 + 2, T / 1000 + 3],
      ['b', 'failed', null, null, null, null, 'pull: manifest unknown', T / 1000 + 3, T / 1000 + 3],
    ]);
    assert.deepEqual((await deploymentEvents(s.sql, '0123456789ab')).map((e) => [e.node, e.state, e.timeUnixMs, e.progressPercent, e.message]), [
      ['a', 'queued', T, null, null],
      ['b', 'queued', T, null, null],
      ['a', 'pulling', T + 2000, 42.5, '425/1000 bytes'],
      ['a', 'running', T + 3000, null, null],
      ['b', 'failed', T + 3500, null, 'pull: manifest unknown'],
    ]);
    await s.close();
  });

  it('lists newest first, deployments of one second in the order they were made; by model; limited', async () => {
    const s = await k.open();
    // Ids chosen against their creation order, so only the first event can tell them apart.
    await insertDeployment(s.sql, deployment('cccccccccccc', T));
    await insertDeployment(s.sql, deployment('aaaaaaaaaaaa', T + 500));
    await insertDeployment(s.sql, deployment('bbbbbbbbbbbb', T + 900, { repository: 'models/whisper' }));
    await insertDeployment(s.sql, deployment('000000000000', T - 5000));
    assert.deepEqual((await listDeployments(s.sql)).map((d) => d.id), ['bbbbbbbbbbbb', 'aaaaaaaaaaaa', 'cccccccccccc', '000000000000']);
    assert.deepEqual((await listDeployments(s.sql, { repository: 'models/yolo', limit: 2 })).map((d) => d.id), ['aaaaaaaaaaaa', 'cccccccccccc']);
    await s.close();
  });

  it('two hubs: one claims a queued deployment; one holds a (node, model) claim until it ends or its lease expires', async () => {
    const [h1, h2] = await k.openPair();
    await insertDeployment(h1.sql, deployment('0123456789ab', T));
    await insertDeployment(h1.sql, deployment('111111111111', T));
    const claims = await Promise.all([claimDeployment(h1.sql, '0123456789ab', 'hub-1', T, 30_000), claimDeployment(h2.sql, '0123456789ab', 'hub-2', T, 30_000)]);
    assert.deepEqual(claims.filter(Boolean).length, 1, 'exactly one hub runs it');
    const claim = (id: string, owner: string) => ({ node: 'a', repository: 'models/yolo', deploymentId: id, owner });
    assert.deepEqual(await claimNodeModel(h1.sql, claim('0123456789ab', 'hub-1'), T, 30_000), { claimed: true });
    assert.deepEqual(await claimNodeModel(h2.sql, claim('111111111111', 'hub-2'), T + 1000, 30_000), { claimed: false, holder: '0123456789ab' });
    assert.deepEqual(await claimNodeModel(h1.sql, claim('0123456789ab', 'hub-1'), T + 2000, 30_000), { claimed: true }, 'its own claim again');
    // Past the lease (T + 2000 + 30000): taken over.
    assert.deepEqual(await claimNodeModel(h2.sql, claim('111111111111', 'hub-2'), T + 32_001, 30_000), { claimed: true });
    await releaseNodeModel(h1.sql, claim('0123456789ab', 'hub-1'));
    assert.deepEqual(await claimNodeModel(h1.sql, claim('0123456789ab', 'hub-1'), T + 33_000, 30_000), { claimed: false, holder: '111111111111' }, 'a release by the old holder frees nothing');
    await releaseNodeModel(h2.sql, claim('111111111111', 'hub-2'));
    assert.deepEqual(await claimNodeModel(h1.sql, claim('0123456789ab', 'hub-1'), T + 34_000, 30_000), { claimed: true });
    await h1.close();
    await h2.close();
  });

  it('renews its lease; a deployment whose lease expired is interrupted once, whichever hubs recover it, its nodes at their step, its claims freed', async () => {
    const [h1, h2] = await k.openPair();
    await insertDeployment(h1.sql, deployment('0123456789ab', T));
    assert.ok(await claimDeployment(h1.sql, '0123456789ab', 'hub-1', T, 10_000));
    await claimNodeModel(h1.sql, { node: 'a', repository: 'models/yolo', deploymentId: '0123456789ab', owner: 'hub-1' }, T, 10_000);
    await recordNodeStep(h1.sql, '0123456789ab', 'a', { state: 'pulling', progressPercent: 40 }, T + 1000);
    await recordNodeStep(h1.sql, '0123456789ab', 'b', { state: 'running', final: true }, T + 1000);
    assert.equal(await renewLease(h2.sql, '0123456789ab', 'hub-2', T + 5000, 10_000), false, 'not its lease');
    assert.equal(await renewLease(h1.sql, '0123456789ab', 'hub-1', T + 5000, 10_000), true);
    assert.deepEqual(await recoverInterruptedDeployments(h2.sql, T + 14_000), [], 'renewed until T + 15000');
    // hub-1 dies. Both hubs look at once after the lease.
    const [r1, r2] = await Promise.all([recoverInterruptedDeployments(h1.sql, T + 15_001), recoverInterruptedDeployments(h2.sql, T + 15_001)]);
    assert.deepEqual([...r1, ...r2], ['0123456789ab']);
    const d = await getDeployment(h1.sql, '0123456789ab');
    assert.deepEqual([d!.status, d!.error, d!.finishedUnixSeconds], ['interrupted', '1 of 2 nodes interrupted', Math.floor((T + 15_001) / 1000)]);
    assert.deepEqual((await deploymentNodes(h1.sql, '0123456789ab')).map((n) => [n.node, n.state, n.error]), [
      ['a', 'interrupted', 'interrupted at pulling (40%): the process running the deployment stopped (its lease expired)'],
      ['b', 'running', null],
    ]);
    assert.equal((await deploymentEvents(h1.sql, '0123456789ab')).filter((e) => e.state === 'interrupted').length, 1);
    assert.deepEqual(await claimNodeModel(h2.sql, { node: 'a', repository: 'models/yolo', deploymentId: '111111111111', owner: 'hub-2' }, T + 15_002, 10_000), { claimed: true }, 'its claim freed');
    assert.equal(await renewLease(h1.sql, '0123456789ab', 'hub-1', T + 16_000, 10_000), false, 'a late heartbeat finds it gone');
    await h1.close();
    await h2.close();
  });
});
