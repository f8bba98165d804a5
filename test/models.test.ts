/**
 * The model catalog: the registry parsers (tables worked out by hand), then the client and the
 * sync against Debian's real `docker-registry` started on loopback ports with images pushed
 * through its HTTP API (anonymous HTTP; htpasswd bcrypt + TLS with a test CA; token auth with a
 * local token server), then the CLI and the hub's HTTP routes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_CONFIG, loadConfig, type Config, type RegistryConfig } from '../shared/config/config.js';
import { syncModels } from '../shared/collect/models.js';
import type { Logger } from '../shared/domain/index.js';
import {
  MEDIA_TYPES,
  modelFields,
  parseImageConfig,
  parseLinkNext,
  parseManifest,
  parseModelReference,
  parseTokenResponse,
  parseWwwAuthenticate,
  runnableEntries,
} from '../shared/parse/index.js';
import { clearTokenCache, RegistryClient, registrySettings } from '../shared/registry/index.js';
import { listModels, openDb, setModelDescription, type Db } from '../shared/store/index.js';
import { BIN, cleanEnv, runCli } from './harness/cli.js';
import { freePort } from './harness/ports.js';
import { startRegistry, type PushedImage, type TestRegistry } from './harness/registry.js';

const D = (c: string) => 'sha256:' + c.repeat(64);

// ---------------------------------------------------------------------------------------------

describe('WWW-Authenticate', () => {
  const cases: [string, string, ReturnType<typeof parseWwwAuthenticate>][] = [
    [
      'distribution token challenge',
      'Bearer realm="https://auth.lab/token",service="registry.lab",scope="repository:models/yolo:pull"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.lab/token', service: 'registry.lab', scope: 'repository:models/yolo:pull' } }],
    ],
    ['a comma inside a quoted scope', 'Bearer realm="r",scope="repository:a:pull,push"', [{ scheme: 'bearer', params: { realm: 'r', scope: 'repository:a:pull,push' } }]],
    ['basic, lowercase scheme kept as key', 'basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    [
      'two challenges, spaces and a token value',
      'Basic realm="x" , Bearer realm="y", service=reg',
      [
        { scheme: 'basic', params: { realm: 'x' } },
        { scheme: 'bearer', params: { realm: 'y', service: 'reg' } },
      ],
    ],
    ['an escaped quote', 'Bearer realm="a\\"b"', [{ scheme: 'bearer', params: { realm: 'a"b' } }]],
    ['empty', '', []],
  ];
  for (const [name, header, expected] of cases) it(name, () => assert.deepEqual(parseWwwAuthenticate(header), expected));
  it('rejects an unterminated quote and a parameter before any scheme', () => {
    assert.throws(() => parseWwwAuthenticate('Bearer realm="x'), /unterminated quoted value/);
    assert.throws(() => parseWwwAuthenticate('realm="x"'), /parameter before any scheme/);
  });
});

describe('Link pagination', () => {
  const base = 'http://127.0.0.1:5000/v2/_catalog?n=2';
  const cases: [string, string | undefined, string | undefined][] = [
    ['relative (what distribution sends)', '</v2/_catalog?last=models%2Fb&n=2>; rel="next"', 'http://127.0.0.1:5000/v2/_catalog?last=models%2Fb&n=2'],
    ['absolute', '<https://reg.lab/v2/_catalog?last=b&n=2>; rel="next"', 'https://reg.lab/v2/_catalog?last=b&n=2'],
    ['next after prev, unquoted rel', '</v2/_catalog?last=a>; rel=prev, </v2/_catalog?last=c>; rel=next', 'http://127.0.0.1:5000/v2/_catalog?last=c'],
    ['no next', '</v2/_catalog?last=a>; rel="prev"', undefined],
    ['no header', undefined, undefined],
  ];
  for (const [name, header, expected] of cases) it(name, () => assert.equal(parseLinkNext(header, base), expected));
});

describe('manifests', () => {
  const image = (mediaType?: string) => ({
    schemaVersion: 2,
    ...(mediaType ? { mediaType } : {}),
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D('c'), size: 300 },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D('1'), size: 1000 },
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D('2'), size: 2500 },
    ],
  });
  const index = (mediaType: string) => ({
    schemaVersion: 2,
    mediaType,
    manifests: [
      { mediaType: MEDIA_TYPES.ociManifest, digest: D('a'), size: 400, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: MEDIA_TYPES.ociManifest, digest: D('b'), size: 401, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: MEDIA_TYPES.ociManifest, digest: D('e'), size: 99, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
    ],
  });
  for (const t of [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]) {
    it(`an image manifest (${t})`, () => {
      const m = parseManifest(JSON.stringify(image(t)));
      assert.equal(m.kind, 'image');
      assert.equal(m.mediaType, t);
      if (m.kind !== 'image') return;
      assert.equal(m.config.size + m.layers.reduce((s, l) => s + l.size, 0), 3800);
    });
  }
  for (const t of [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList]) {
    it(`an index (${t}): attestations are not platforms`, () => {
      const m = parseManifest(JSON.stringify(index(t)));
      assert.equal(m.kind, 'index');
      if (m.kind !== 'index') return;
      assert.deepEqual(runnableEntries(m).map((e) => [e.digest, e.platform]), [
        [D('a'), { os: 'linux', architecture: 'arm64', variant: 'v8' }],
        [D('b'), { os: 'linux', architecture: 'amd64' }],
      ]);
    });
  }
  it('takes the type from Content-Type, else from the fields, when the body has none', () => {
    assert.equal(parseManifest(JSON.stringify(image()), 'application/vnd.docker.distribution.manifest.v2+json; charset=utf-8').mediaType, MEDIA_TYPES.dockerManifest);
    assert.equal(parseManifest(JSON.stringify(image())).mediaType, MEDIA_TYPES.ociManifest);
  });
  const bad: [string, string, RegExp][] = [
    ['not JSON', '{"schemaVersion":', /manifest: not JSON/],
    ['schema 1', JSON.stringify({ schemaVersion: 1, name: 'x', fsLayers: [] }), /schema 1 manifests are not supported/],
    ['layers not a list', JSON.stringify({ ...image(MEDIA_TYPES.ociManifest), layers: 'oops' }), /"layers" is not a list/],
    ['a bad digest', JSON.stringify({ ...image(MEDIA_TYPES.ociManifest), config: { digest: 'sha256:xyz', size: 1 } }), /config\.digest is not a sha256/],
    ['a negative size', JSON.stringify({ ...image(MEDIA_TYPES.ociManifest), config: { digest: D('c'), size: -1 } }), /config\.size is not a byte count/],
    ['an unknown type', JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.example+json' }), /not a manifest type edgefleet knows: "application\/vnd\.example\+json"/],
  ];
  for (const [name, body, re] of bad) it(`rejects ${name}`, () => assert.throws(() => parseManifest(body), re));
});

describe('image config and labels', () => {
  it('reads labels, platform, and created; the label wins over the config', () => {
    const c = parseImageConfig(
      JSON.stringify({
        created: '2024-05-01T12:00:00.123456789Z',
        os: 'linux',
        architecture: 'arm64',
        variant: 'v8',
        config: { Labels: { 'org.opencontainers.image.title': ' YOLO ', 'io.edgefleet.model.task': 'object-detection', n: 5 } },
      }),
    );
    assert.deepEqual(c, { os: 'linux', architecture: 'arm64', variant: 'v8', createdUnixSeconds: 1714564800, labels: { 'org.opencontainers.image.title': ' YOLO ', 'io.edgefleet.model.task': 'object-detection' } });
    assert.deepEqual(modelFields(c.labels, c.createdUnixSeconds), { title: 'YOLO', task: 'object-detection', createdUnixSeconds: 1714564800 });
    // 2024-06-01T08:30:00+09:00 is 2024-05-31T23:30:00Z.
    assert.equal(modelFields({ 'org.opencontainers.image.created': '2024-06-01T08:30:00+09:00' }, 1).createdUnixSeconds, 1717198200);
    assert.equal(modelFields({ 'org.opencontainers.image.created': 'yesterday' }, 7).createdUnixSeconds, 7);
  });
  it('rejects a config that is not JSON, quoting it', () => assert.throws(() => parseImageConfig('not json {'), /image config: not JSON: "not json \{"/));
});

describe('references, token responses, registry settings', () => {
  it('parses NAME[:TAG] with the distribution grammar', () => {
    assert.deepEqual(parseModelReference('models/yolo:v8'), { repository: 'models/yolo', tag: 'v8' });
    assert.deepEqual(parseModelReference('a/b/c'), { repository: 'a/b/c' });
    for (const bad of ['Models/yolo', 'a//b', 'a/', '-a', 'a:b:c', 'a:' + 'x'.repeat(129), 'reg.lab:5000/x', 'a;rm -rf', '']) assert.throws(() => parseModelReference(bad), /model reference/, bad);
  });
  it('reads token and access_token, with 60 s when expires_in is absent', () => {
    assert.deepEqual(parseTokenResponse('{"token":"t1","expires_in":300}'), { token: 't1', expiresInSeconds: 300 });
    assert.deepEqual(parseTokenResponse('{"access_token":"t2"}'), { token: 't2', expiresInSeconds: 60 });
    assert.throws(() => parseTokenResponse('{"token":"a b"}'), /characters a header cannot carry/);
    assert.throws(() => parseTokenResponse('{}'), /no "token"/);
  });
  const opts = (o: Partial<RegistryConfig>): RegistryConfig => ({ name: 'lab', url: 'https://reg.lab', username: '', password: '', insecure: false, caFile: '', namespaces: [], ...o });
  const limits = { timeoutSeconds: 5, pageSize: 100 };
  it('keeps the scheme: plain HTTP only when insecure; no scheme is https, or http when insecure', () => {
    assert.throws(() => registrySettings(opts({ url: 'http://reg.lab:5000' }), limits), /plain HTTP: set insecure: true/);
    assert.equal(registrySettings(opts({ url: 'http://reg.lab:5000', insecure: true }), limits).url, 'http://reg.lab:5000');
    assert.equal(registrySettings(opts({ url: 'reg.lab:5000' }), limits).url, 'https://reg.lab:5000');
    assert.equal(registrySettings(opts({ url: 'reg.lab:5000', insecure: true }), limits).url, 'http://reg.lab:5000');
    assert.throws(() => registrySettings(opts({ url: 'https://u:p@reg.lab' }), limits), /credentials in the URL/);
    assert.throws(() => registrySettings(opts({ caFile: '/nonexistent/ca.pem' }), limits), /caFile \/nonexistent\/ca.pem: ENOENT/);
    assert.throws(() => registrySettings(opts({ namespaces: ['../x'] }), limits), /namespace/);
  });
  it('reads registries: from the file and one from EDGEFLEET_REGISTRY_*, never coerced from EDGEFLEET_REGISTRIES', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefleet-models-config-'));
    try {
      const file = join(dir, 'edgefleet.yaml');
      writeFileSync(file, 'registries:\n  - name: lab\n    url: https://reg.lab\n    caFile: certs/ca.pem\n    namespaces: [models, vision]\nmodels:\n  pageSize: 50\n');
      const c = loadConfig({ file, env: { EDGEFLEET_REGISTRY_USERNAME: 'bot', EDGEFLEET_REGISTRY_PASSWORD: 's3cret' } });
      assert.deepEqual(c.registries, [{ name: 'lab', url: 'https://reg.lab', username: 'bot', password: 's3cret', insecure: false, caFile: join(dir, 'certs/ca.pem'), namespaces: ['models', 'vision'] }]);
      assert.equal(c.models.pageSize, 50);
      const e = loadConfig({ env: { EDGEFLEET_REGISTRY_URL: 'http://127.0.0.1:5000', EDGEFLEET_REGISTRY_INSECURE: 'true' }, cwd: tmpdir() });
      assert.deepEqual(e.registries, [{ name: 'default', url: 'http://127.0.0.1:5000', username: '', password: '', insecure: true, caFile: '', namespaces: [] }]);
      writeFileSync(file, 'registries:\n  - name: lab\n    url: https://reg.lab\n    pasword: x\n');
      assert.throws(() => loadConfig({ file, env: {} }), /"registries\[0\]": unknown key "pasword"/);
      writeFileSync(file, 'registries: https://reg.lab\n');
      assert.throws(() => loadConfig({ file, env: {} }), /"registries" must be a list/);
      assert.throws(() => loadConfig({ env: { EDGEFLEET_REGISTRY_USERNAME: 'bot' }, cwd: tmpdir() }), /EDGEFLEET_REGISTRY_URL is needed/);
      assert.deepEqual(loadConfig({ env: { EDGEFLEET_REGISTRIES: 'x' }, cwd: tmpdir() }).registries, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------

/** A logger that keeps its lines, to check what reaches the log. */
function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const put = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push(JSON.stringify({ level, msg, ...fields }));
  return { lines, debug: put('debug'), info: put('info'), warn: put('warn'), error: put('error') };
}

const modelsConfig = (registries: Partial<RegistryConfig>[], models: Partial<Config['models']> = {}): Pick<Config, 'models' | 'registries'> => ({
  models: { ...DEFAULT_CONFIG.models, pageSize: 2, ...models },
  registries: registries.map((r) => ({ name: 'lab', url: '', username: '', password: '', insecure: false, caFile: '', namespaces: [], ...r })),
});

const LABELS = {
  'org.opencontainers.image.title': 'YOLOv8n',
  'org.opencontainers.image.description': 'Real-time object detection, COCO 80 classes',
  'org.opencontainers.image.version': '8.1.0',
  'org.opencontainers.image.created': '2024-06-01T08:30:00+09:00',
  'io.edgefleet.model.task': 'object-detection',
  'io.edgefleet.model.framework': 'onnxruntime',
  'io.edgefleet.model.input': 'image/jpeg 640x640',
  'io.edgefleet.model.output': 'boxes+classes (COCO 80)',
};

/** The lab's images, pushed to a registry. */
async function pushLab(r: TestRegistry): Promise<Record<string, PushedImage>> {
  const p = r.push;
  return {
    yolo8: await p.image('models/yolo', 'v8', { labels: LABELS, platforms: [{ os: 'linux', architecture: 'arm64', variant: 'v8' }, { os: 'linux', architecture: 'amd64' }], attestation: true, layerBytes: [5000, 120_000] }),
    yolo7: await p.image('models/yolo', 'v7', { format: 'docker', labels: { 'org.opencontainers.image.description': 'the previous YOLO' } }),
    resnet: await p.image('models/resnet', '1.0', { format: 'docker', platforms: [{ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'amd64' }], labels: { 'io.edgefleet.model.task': 'image-classification' } }),
    whisper: await p.image('models/whisper', 'small', { platforms: [{ os: 'linux', architecture: 'arm64' }], created: '2023-11-02T03:04:05Z' }),
    broken: await p.image('models/broken', 'v1', { rawConfig: 'not json {' }),
    corrupt: await p.image('models/corrupt', 'v1', {}),
    bert: await p.image('other/bert', 'base', {}),
  };
}

describe('against docker-registry: anonymous, plain HTTP (insecure)', () => {
  let r: TestRegistry;
  let lab: Record<string, PushedImage>;
  let db: Db;
  const log = memoryLogger();
  const config = () => modelsConfig([{ url: r.url, insecure: true }]);

  before(async () => {
    r = await startRegistry();
    lab = await pushLab(r);
    // A manifest broken on disk: JSON the registry still serves, that is no manifest.
    r.corruptBlob(lab.corrupt!.digest, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config: 'oops', layers: [] }));
    db = openDb(':memory:');
  });
  after(async () => {
    db?.close();
    await r?.close();
  });

  it('lists a catalog longer than one page, following the relative Link', async () => {
    const c = new RegistryClient(registrySettings({ ...config().registries[0]! }, { timeoutSeconds: 5, pageSize: 2 }));
    try {
      const { repositories } = await c.listRepositories();
      assert.deepEqual(repositories, ['models/broken', 'models/corrupt', 'models/resnet', 'models/whisper', 'models/yolo', 'other/bert']);
      assert.ok(c.stats.requests >= 3, `${c.stats.requests} requests for 6 repositories at 2 a page`);
    } finally {
      c.close();
    }
  });

  it('syncs every model: platforms of the index, sizes, digests, labels; a broken one recorded, the others synced', async () => {
    const s = await syncModels({ db, config: config(), log });
    const reg = s.registries[0]!;
    assert.equal(reg.status, 'ok', JSON.stringify(reg));
    assert.equal(reg.repositories, 6);
    assert.equal(reg.tags, 7);
    assert.equal(reg.read, 5);
    assert.equal(reg.failed, 2);
    const all = await listModels(db);
    assert.deepEqual(all.map((m) => `${m.repository}:${m.tag}`), ['models/broken:v1', 'models/corrupt:v1', 'models/resnet:1.0', 'models/whisper:small', 'models/yolo:v7', 'models/yolo:v8', 'other/bert:base']);
    const by = Object.fromEntries(all.map((m) => [`${m.repository}:${m.tag}`, m]));

    const y = by['models/yolo:v8']!;
    assert.equal(y.digest, lab.yolo8!.digest);
    assert.equal(y.mediaType, MEDIA_TYPES.ociIndex);
    const expected = [...lab.yolo8!.platforms].sort((a, b) => a.platform.localeCompare(b.platform));
    assert.deepEqual(y.platforms.map((p) => [p.platform, p.digest, p.sizeBytes]), expected.map((p) => [p.platform, p.digest, p.sizeBytes]));
    assert.deepEqual(y.platforms.map((p) => p.platform), ['linux/amd64', 'linux/arm64/v8'], 'the attestation is no platform');
    assert.equal(y.sizeBytes, Math.max(...expected.map((p) => p.sizeBytes)));
    assert.ok(y.sizeBytes! > 125_000);
    assert.equal(y.title, 'YOLOv8n');
    assert.equal(y.description, LABELS['org.opencontainers.image.description']);
    assert.equal(y.labelDescription, y.description);
    assert.equal(y.personDescription, null);
    assert.equal(y.version, '8.1.0');
    assert.equal(y.createdUnixSeconds, Date.parse('2024-06-01T08:30:00+09:00') / 1000);
    assert.deepEqual([y.task, y.framework, y.input, y.output], ['object-detection', 'onnxruntime', 'image/jpeg 640x640', 'boxes+classes (COCO 80)']);
    assert.deepEqual(y.labels, LABELS);
    assert.equal(y.error, null);

    const resnet = by['models/resnet:1.0']!;
    assert.equal(resnet.mediaType, MEDIA_TYPES.dockerManifestList);
    assert.deepEqual(resnet.platforms.map((p) => p.platform), ['linux/amd64', 'linux/arm64']);
    const v7 = by['models/yolo:v7']!;
    assert.equal(v7.mediaType, MEDIA_TYPES.dockerManifest);
    assert.deepEqual(v7.platforms.map((p) => [p.platform, p.digest, p.sizeBytes]), [['linux/amd64', lab.yolo7!.digest, lab.yolo7!.platforms[0]!.sizeBytes]]);
    assert.equal(by['models/whisper:small']!.createdUnixSeconds, Date.parse('2023-11-02T03:04:05Z') / 1000, 'the config created without a label');
    assert.deepEqual(by['models/whisper:small']!.platforms.map((p) => p.platform), ['linux/arm64']);

    const broken = by['models/broken:v1']!;
    assert.match(broken.error!, /config models\/broken:v1 .*: not JSON: "not json \{"/);
    assert.equal(broken.digest, null);
    assert.deepEqual(broken.platforms, []);
    const corrupt = by['models/corrupt:v1']!;
    assert.match(corrupt.error!, /manifest models\/corrupt:v1|HTTP 5\d\d|does not match its digest/);
    assert.equal(corrupt.digest, null);
    assert.ok(log.lines.some((l) => l.includes('model not read') && l.includes('models/broken')));
  });

  it('a second sync reads no unchanged tag again: one HEAD each', async () => {
    const s = await syncModels({ db, config: config(), log });
    const reg = s.registries[0]!;
    assert.equal(reg.unchanged, 5);
    assert.equal(reg.read, 0);
    assert.equal(reg.failed, 2, 'broken ones are tried again');
    // ping, 3-4 catalog pages, 6 tag lists, 5 HEADs, and the two broken ones' reads.
    assert.ok(reg.requests < 25, `${reg.requests} requests`);
  });

  it("shows a person's description apart from the image's label, per tag or for the whole repository", async () => {
    const now = Math.floor(Date.now() / 1000);
    await setModelDescription(db, 'lab', 'models/yolo', 'v8', 'Counts people at the gate; retrained on our cameras', now);
    await setModelDescription(db, 'lab', 'models/yolo', undefined, 'Every YOLO we run', now);
    const [v7, v8] = await listModels(db, { repository: 'models/yolo' });
    assert.equal(v8!.description, 'Counts people at the gate; retrained on our cameras');
    assert.equal(v8!.labelDescription, LABELS['org.opencontainers.image.description']);
    assert.deepEqual(v8!.personDescription, { text: 'Counts people at the gate; retrained on our cameras', tag: 'v8', updatedUnixSeconds: now });
    assert.equal(v7!.description, 'Every YOLO we run');
    assert.equal(v7!.labelDescription, 'the previous YOLO');
    assert.equal(v7!.personDescription!.tag, null);
  });

  it('marks a deleted tag removed, keeps its row and the description; a pushed-again tag comes back', async () => {
    await r.push.deleteManifest('models/yolo', lab.yolo7!.digest);
    const s = await syncModels({ db, config: config(), log });
    assert.equal(s.registries[0]!.removed, 1);
    assert.deepEqual((await listModels(db, { repository: 'models/yolo' })).map((m) => m.tag), ['v8']);
    const gone = (await listModels(db, { repository: 'models/yolo', includeRemoved: true })).find((m) => m.tag === 'v7')!;
    assert.ok(gone.removedUnixSeconds !== null);
    assert.equal(gone.description, 'Every YOLO we run');
    assert.equal((await listModels(db, { repository: 'models/yolo', tag: 'v8' }))[0]!.removedUnixSeconds, null);

    const again = await r.push.image('models/yolo', 'v7', { format: 'docker' });
    await syncModels({ db, config: config(), log });
    const back = (await listModels(db, { repository: 'models/yolo', tag: 'v7' }))[0]!;
    assert.equal(back.removedUnixSeconds, null);
    assert.equal(back.digest, again.digest);
    assert.equal(back.firstSeenUnixSeconds, gone.firstSeenUnixSeconds);
  });

  it('filters by platform and namespace; a repository out of the namespaces is marked removed', async () => {
    assert.deepEqual((await listModels(db, { platform: 'linux/arm64' })).map((m) => m.repository + ':' + m.tag), ['models/resnet:1.0', 'models/whisper:small', 'models/yolo:v8']);
    const s = await syncModels({ db, config: modelsConfig([{ url: r.url, insecure: true, namespaces: ['models'] }]), log });
    assert.equal(s.registries[0]!.repositories, 5);
    assert.deepEqual(await listModels(db, { repository: 'other/bert' }), []);
  });

  it('collectAll is bounded: a registry synced within models.syncIntervalSeconds is skipped; a passed deadline stores what it read', async () => {
    const skipped = await syncModels({ db, config: config(), log, onlyDue: true });
    assert.equal(skipped.registries[0]!.status, 'skipped');
    const fresh = openDb(':memory:');
    try {
      const s = await syncModels({ db: fresh, config: config(), log, deadlineMs: Date.now() + 1 });
      assert.ok(['partial', 'failed', 'skipped'].includes(s.registries[0]!.status), s.registries[0]!.status);
      assert.equal(fresh.prepare('SELECT COUNT(*) FROM models WHERE removed_unix_seconds IS NOT NULL').pluck().get(), 0);
    } finally {
      fresh.close();
    }
  });
});

describe('against docker-registry: basic auth (bcrypt htpasswd) over TLS with a custom CA', () => {
  let r: TestRegistry;
  const PASSWORD = 'correct horse battery staple';
  before(async () => {
    r = await startRegistry({ auth: 'htpasswd', tls: true, users: { edgefleet: PASSWORD } });
    await r.push.image('models/yolo', 'v8', { labels: LABELS });
  });
  after(async () => r?.close());

  it('syncs with the right password and the CA', async () => {
    const db = openDb(':memory:');
    const s = await syncModels({ db, config: modelsConfig([{ url: r.url, username: 'edgefleet', password: PASSWORD, caFile: r.caFile! }]), log: memoryLogger() });
    assert.equal(s.registries[0]!.status, 'ok', JSON.stringify(s));
    assert.equal((await listModels(db))[0]!.title, 'YOLOv8n');
    db.close();
  });

  it('a wrong password: a clear error, nothing stored, the password nowhere', async () => {
    const db = openDb(':memory:');
    const log = memoryLogger();
    const wrong = 'Tr0ub4dor&3';
    const s = await syncModels({ db, config: modelsConfig([{ url: r.url, username: 'edgefleet', password: wrong, caFile: r.caFile! }]), log });
    const reg = s.registries[0]!;
    assert.equal(reg.status, 'failed');
    assert.equal(reg.errorKind, 'auth');
    assert.match(reg.error!, /registry "lab" \(https:\/\/127\.0\.0\.1:\d+\): authentication failed for user "edgefleet": wrong username or password \(HTTP 401\)/);
    assert.equal(db.prepare('SELECT COUNT(*) FROM models').pluck().get(), 0);
    const everything = JSON.stringify(s) + log.lines.join('\n') + JSON.stringify(db.prepare('SELECT * FROM model_registries').all());
    assert.ok(!everything.includes(wrong) && !everything.includes(Buffer.from(`edgefleet:${wrong}`).toString('base64')));
    db.close();
  });

  it('no credentials: says they are needed', async () => {
    const db = openDb(':memory:');
    const s = await syncModels({ db, config: modelsConfig([{ url: r.url, caFile: r.caFile! }]), log: memoryLogger() });
    assert.match(s.registries[0]!.error!, /requires a username and password/);
    db.close();
  });

  it('verifies the certificate: refused without the CA, accepted when the registry is marked insecure', async () => {
    const db = openDb(':memory:');
    const s = await syncModels({ db, config: modelsConfig([{ url: r.url, username: 'edgefleet', password: PASSWORD }]), log: memoryLogger() });
    assert.equal(s.registries[0]!.errorKind, 'unreachable');
    assert.match(s.registries[0]!.error!, /certificate|self.signed|UNABLE_TO_VERIFY/i);
    const insecure = await syncModels({ db, config: modelsConfig([{ url: r.url, username: 'edgefleet', password: PASSWORD, insecure: true }]), log: memoryLogger() });
    assert.equal(insecure.registries[0]!.status, 'ok');
    db.close();
  });
});

describe('against docker-registry: bearer tokens (auth.token) from a local token server', () => {
  let r: TestRegistry;
  const PASSWORD = 'tokens please';
  const settings = (password = PASSWORD) => registrySettings({ name: 'lab', url: r.url, username: 'edgefleet', password, insecure: true, caFile: '', namespaces: [] }, { timeoutSeconds: 5, pageSize: 2 });
  before(async () => {
    r = await startRegistry({ auth: 'token', users: { edgefleet: PASSWORD }, tokenExpiresInSeconds: 300 });
    await r.push.image('models/yolo', 'v8', { labels: LABELS, platforms: [{ os: 'linux', architecture: 'arm64' }, { os: 'linux', architecture: 'amd64' }] });
    await r.push.image('models/resnet', '1.0', {});
    await r.push.image('models/whisper', 'small', {});
    clearTokenCache();
  });
  after(async () => r?.close());

  it('syncs: a token per scope from the realm the challenge names', async () => {
    const db = openDb(':memory:');
    const s = await syncModels({ db, config: modelsConfig([{ url: r.url, username: 'edgefleet', password: PASSWORD, insecure: true }]), log: memoryLogger() });
    assert.equal(s.registries[0]!.status, 'ok', JSON.stringify(s));
    assert.equal((await listModels(db)).length, 3);
    const scopes = r.tokenRequests.flatMap((t) => t.scopes);
    assert.ok(scopes.includes('registry:catalog:*'), scopes.join(' '));
    for (const repo of ['models/yolo', 'models/resnet', 'models/whisper']) assert.ok(scopes.includes(`repository:${repo}:pull`), repo);
    assert.ok(r.tokenRequests.every((t) => t.granted && t.user === 'edgefleet'));
    db.close();
  });

  it('reuses a token until it expires', async () => {
    clearTokenCache();
    let now = Date.now();
    const run = async () => {
      const c = new RegistryClient(settings(), { now: () => now });
      try {
        await c.ping();
        await c.listRepositories();
        await c.describe('models/yolo', 'v8');
        return c.stats.tokenRequests;
      } finally {
        c.close();
      }
    };
    const first = await run();
    assert.equal(first, 3, 'ping (no scope), catalog, repository:models/yolo:pull');
    assert.equal(await run(), 0, 'all from the cache');
    now += 301_000;
    assert.equal(await run(), 3, 'expired: asked again');
  });

  it('a wrong password: the token endpoint refuses it, nothing stored', async () => {
    clearTokenCache();
    const db = openDb(':memory:');
    const s = await syncModels({ db, config: modelsConfig([{ url: r.url, username: 'edgefleet', password: 'nope', insecure: true }]), log: memoryLogger() });
    assert.equal(s.registries[0]!.errorKind, 'auth');
    assert.match(s.registries[0]!.error!, /the token endpoint http:\/\/127\.0\.0\.1:\d+\/token refused user "edgefleet": wrong username or password \(HTTP 401\)/);
    assert.equal(db.prepare('SELECT COUNT(*) FROM models').pluck().get(), 0);
    db.close();
  });
});

describe('redirects', () => {
  let front: Server;
  let other: Server;
  let frontUrl: string;
  const seen: { server: string; path: string; headers: IncomingHttpHeaders }[] = [];
  const blob = Buffer.from('{"architecture":"arm64","os":"linux"}');
  const blobDigest = 'sha256:' + createHash('sha256').update(blob).digest('hex');
  const AUTH = 'Basic ' + Buffer.from('edgefleet:pw').toString('base64');

  before(async () => {
    const listen = async (s: Server) => {
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(s.address() as { port: number }).port}`;
    };
    other = createServer((req, res) => {
      seen.push({ server: 'other', path: req.url!, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(blob);
    });
    const otherUrl = await listen(other);
    front = createServer((req, res) => {
      seen.push({ server: 'front', path: req.url!, headers: req.headers });
      if (req.headers.authorization !== AUTH) return void res.writeHead(401, { 'www-authenticate': 'Basic realm="front"' }).end();
      if (req.url === '/v2/') return void res.writeHead(200).end('{}');
      if (req.url!.startsWith('/v2/models/x/blobs/')) return void res.writeHead(307, { location: `${otherUrl}/storage/blob?sig=1` }).end();
      if (req.url === '/v2/models/x/blobs-moved') return void res.writeHead(200).end(blob);
      res.writeHead(404).end();
    });
    frontUrl = await listen(front);
  });
  after(async () => {
    for (const s of [front, other]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  it('follows a redirect to another host without the Authorization header', async () => {
    const c = new RegistryClient(registrySettings({ name: 'lab', url: frontUrl, username: 'edgefleet', password: 'pw', insecure: true, caFile: '', namespaces: [] }, { timeoutSeconds: 5, pageSize: 10 }));
    try {
      await c.ping();
      assert.deepEqual(await c.blob('models/x', blobDigest), blob);
    } finally {
      c.close();
    }
    const toOther = seen.filter((s) => s.server === 'other');
    assert.equal(toOther.length, 1);
    assert.equal(toOther[0]!.headers.authorization, undefined, 'credentials leaked to another host');
    assert.ok(seen.some((s) => s.server === 'front' && s.path.startsWith('/v2/models/x/blobs/') && s.headers.authorization === AUTH));
  });
});

// ---------------------------------------------------------------------------------------------

const LOCAL_INVENTORY = join(import.meta.dirname, 'fixtures', 'cli', 'local.ini');

describe('edgefleet models and the hub routes', () => {
  let r: TestRegistry;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    r = await startRegistry({ auth: 'htpasswd', users: { edgefleet: 'pw-for-cli' } });
    await pushLab(r);
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-models-cli-'));
    env = { EDGEFLEET_DB: join(dir, 'fleet.db'), EDGEFLEET_INVENTORY: LOCAL_INVENTORY, EDGEFLEET_REGISTRY_NAME: 'lab', EDGEFLEET_REGISTRY_URL: r.url, EDGEFLEET_REGISTRY_INSECURE: 'true', EDGEFLEET_REGISTRY_USERNAME: 'edgefleet', EDGEFLEET_REGISTRY_PASSWORD: 'pw-for-cli' };
  });
  after(async () => {
    await r?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('models sync / list / describe --set: both descriptions shown', async () => {
    const wrong = await runCli(['models', 'sync'], { cwd: dir, env: { ...env, EDGEFLEET_REGISTRY_PASSWORD: 'not-it' } });
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.match(wrong.stderr, /authentication failed for user "edgefleet": wrong username or password/);
    assert.ok(!(wrong.stdout + wrong.stderr).includes('not-it'));

    const sync = await runCli(['models', 'sync'], { cwd: dir, env });
    assert.equal(sync.code, 2, `a tag could not be read → 2\n${sync.stdout}\n${sync.stderr}`);
    assert.match(sync.stderr, /models\/broken:v1: .*not JSON/);
    const list = await runCli(['models', 'list'], { cwd: dir, env: { ...env, TZ: 'UTC' } });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout.split('\n')[0]!, /^MODEL\s+PLATFORMS\s+SIZE\s+CREATED\s+TASK/);
    assert.match(list.stdout, /models\/yolo:v8\s+linux\/amd64,linux\/arm64\/v8\s+1\d\d\.\d KiB\s+2024-05-31 23:30:00 UTC\s+object-detection\s+onnxruntime\s+Real-time object detection/);

    const set = await runCli(['models', 'describe', 'models/yolo:v8', '--set', 'Counts people at the gate'], { cwd: dir, env });
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^description: +Counts people at the gate$/m);
    assert.match(set.stdout, /^ {2}by a person: +Counts people at the gate$/m);
    assert.match(set.stdout, /^ {2}image label: +Real-time object detection, COCO 80 classes$/m);
    assert.match(set.stdout, /^platform: +linux\/arm64\/v8 /m);
    const json = JSON.parse((await runCli(['models', 'describe', 'models/yolo', '--json'], { cwd: dir, env })).stdout) as { tag: string; description: string; labelDescription: string }[];
    assert.deepEqual(json.map((m) => [m.tag, m.description, m.labelDescription]), [
      ['v7', 'the previous YOLO', 'the previous YOLO'],
      ['v8', 'Counts people at the gate', 'Real-time object detection, COCO 80 classes'],
    ]);
    const bad = await runCli(['models', 'describe', 'Models/YOLO'], { cwd: dir, env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not a repository name/);
    const none = await runCli(['models', 'describe', 'models/nope:v1', '--set', 'x'], { cwd: dir, env });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no model models\/nope:v1 in the catalog/);
  });

  it('the hub: collectAll syncs the catalog; GET /models and GET /models/{name+} (slashes in the name), 400 and 404', async () => {
    const port = await freePort();
    const hubDb = join(dir, 'hub.db');
    const child = spawn(process.execPath, [BIN, 'hub', '--port', String(port), '--interval', '1'], { cwd: dir, env: cleanEnv({ ...env, EDGEFLEET_DB: hubDb }), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const base = `http://127.0.0.1:${port}`;
    const get = async (path: string) => {
      const res = await fetch(base + path, { signal: AbortSignal.timeout(5000) });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    try {
      const deadline = Date.now() + 20_000;
      let models: { repository: string; tag: string }[] = [];
      for (;;) {
        assert.equal(child.exitCode, null, stderr);
        try {
          const res = await get('/models');
          models = res.body.models ?? [];
          if (models.length >= 7) break;
        } catch {
          // not listening yet
        }
        assert.ok(Date.now() < deadline, `no models within 20 s:\n${stderr}`);
        await new Promise((res) => setTimeout(res, 200));
      }
      assert.ok(models.some((m) => m.repository === 'models/yolo' && m.tag === 'v8'));
      const one = await get('/models/models/yolo:v8');
      assert.equal(one.status, 200);
      assert.equal(one.body.models.length, 1);
      assert.deepEqual(one.body.models[0].platforms.map((p: { platform: string }) => p.platform), ['linux/amd64', 'linux/arm64/v8']);
      assert.equal((await get('/models/models/yolo')).body.models.length, 2);
      const arm = await get('/models?platform=linux/arm64');
      assert.deepEqual(arm.body.models.map((m: { repository: string }) => m.repository), ['models/resnet', 'models/whisper', 'models/yolo']);
      const bad = await get('/models/Models;ls');
      assert.equal(bad.status, 400);
      assert.match(bad.body.error, /not a repository name/);
      assert.equal((await get('/models?platform=../x')).status, 400);
      assert.equal((await get('/models?x=1')).status, 400);
      const missing = await get('/models/models/nope');
      assert.equal(missing.status, 404);
      assert.match(missing.body.error, /no model models\/nope/);
      assert.ok(!stderr.includes('pw-for-cli'), 'the password reached the log');
    } finally {
      const exited = new Promise((res) => child.once('exit', res));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
