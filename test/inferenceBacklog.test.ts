/**
 * An inference backlog, drained as a hub does after downtime: a model's container on a Podman
 * node (over SSH) has logged 20 000 protocol lines in bursts over four seconds; edgefleet reads
 * them in byte windows (and one-second time windows), committing rows and cursor together. A
 * round cut off after its first window keeps what it read; the next one reads the rest; every
 * line is stored once. The stats over them come from SQL and match percentiles worked out here.
 * Plus the streaming demultiplexer against the whole-buffer one at every split point.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inventoryNodes } from '../shared/collect/collection.js';
import { collectInference } from '../shared/collect/inference.js';
import { inferenceStats, percentile } from '../shared/collect/inferenceStats.js';
import { createDeployment, parseDeployRequest, runDeployment } from '../shared/deploy/index.js';
import { silentLogger } from '../shared/domain/index.js';
import { demuxStream, Engine, FrameDemuxer, MAX_CARRIED_FRAME_BYTES, StdoutBuffer } from '../shared/engine/index.js';
import { applyInferenceRetention, finishDeployment, inferenceStore, insertDeployment, openDb, pruneGoneCursors, syncNodes, type Db } from '../shared/store/index.js';
import { TransportPool } from '../shared/transport/pool.js';
import { startModelLab, type ModelLab } from './harness/modelLab.js';
import { pushModelImage } from './harness/podman.js';

const REPO = 'lab/backlog';
const BURSTS = 4;
const PER_BURST = 5000;
const TOTAL = BURSTS * PER_BURST;
const latencyOf = (i: number) => (i % 97) + 0.5;
// Bursts a second apart, a garbage line every 1000th, then a marker (not the protocol either).
const SCRIPT = [
  `b=0; while [ $b -lt ${BURSTS} ]; do`,
  `  awk -v b=$b 'BEGIN { for (i = b * ${PER_BURST}; i < (b + 1) * ${PER_BURST}; i++) { printf "{\\"latency_ms\\":%d.5,\\"input_id\\":\\"%d\\"}\\n", i % 97, i; if (i % 1000 == 7) print "garbage " i } }'`,
  '  b=$((b + 1)); sleep 1',
  'done',
  'echo backlog written',
  'trap "exit 0" TERM; sleep 3600 & wait',
].join('\n');

function frames(parts: [number, string][]): Buffer {
  return Buffer.concat(
    parts.map(([type, text]) => {
      const h = Buffer.alloc(8);
      h[0] = type;
      h.writeUInt32BE(Buffer.byteLength(text), 4);
      return Buffer.concat([h, Buffer.from(text)]);
    }),
  );
}

describe('FrameDemuxer', () => {
  it('gives the stdout of a multiplexed stream cut at any byte, as the whole-buffer demux does', () => {
    const buf = frames([[1, '2026-01-01T00:00:00Z {"latency_ms":1}\n'], [2, 'warn\n'], [1, '2026-01-01T00:00:01Z partial '], [1, 'line\n'], [1, '']]);
    const whole = demuxStream(buf, 1).toString();
    for (let cut = 0; cut <= buf.length; cut++) {
      for (const step of [1, 3, 7, buf.length]) {
        const d = new FrameDemuxer(1);
        const got: Buffer[] = [];
        const chunks = [buf.subarray(0, cut), ...Array.from({ length: Math.ceil((buf.length - cut) / step) }, (_, k) => buf.subarray(cut + k * step, cut + (k + 1) * step))];
        for (const c of chunks) got.push(...d.push(Buffer.from(c)));
        assert.equal(Buffer.concat(got).toString(), whole, `cut ${cut} step ${step}`);
      }
    }
  });
  it('joins a line the engine logged in parts (each part with its own timestamp) at any cut', () => {
    const buf = frames([[1, '2026-01-01T00:00:00.5Z {"latency_ms":'], [1, '2026-01-01T00:00:01Z 1.5,"label":'], [1, '2026-01-01T00:00:01Z "a"}\n'], [1, '2026-01-01T00:00:01Z next\n']]);
    for (let cut = 0; cut <= buf.length; cut++) {
      const d = new FrameDemuxer(1, { timestamps: true });
      const got = Buffer.concat([...d.push(Buffer.from(buf.subarray(0, cut))), ...d.push(Buffer.from(buf.subarray(cut)))]).toString();
      assert.equal(got, '2026-01-01T00:00:00.5Z {"latency_ms":1.5,"label":"a"}\n2026-01-01T00:00:01Z next\n', `cut ${cut}`);
    }
  });
  it('passes a frame too big to carry through in pieces, its header cut anywhere, and gathers stdout in one buffer', () => {
    const big = Buffer.alloc(MAX_CARRIED_FRAME_BYTES + 100, 'a');
    big[big.length - 1] = 10;
    const buf = Buffer.concat([frames([[1, '2026-01-01T00:00:00Z x\n']]), frames([[1, big.toString()]]), frames([[2, 'err\n'], [1, '2026-01-01T00:00:01Z y\n']])]);
    const whole = demuxStream(buf, 1);
    const bigAt = frames([[1, '2026-01-01T00:00:00Z x\n']]).length;
    for (const cut of [1, bigAt, bigAt + 1, bigAt + 4, bigAt + 7, bigAt + 8, bigAt + 9, buf.length - 20]) {
      const d = new FrameDemuxer(1, { timestamps: true });
      const out = new StdoutBuffer(16);
      // In three pieces: the big frame's rest comes in two.
      for (const [from, to] of [[0, cut], [cut, cut + 300_000], [cut + 300_000, buf.length]]) d.feed(buf.subarray(from, to), out.append);
      assert.equal(out.length, whole.length, `cut ${cut}`);
      assert.ok(out.completeLines().equals(whole), `cut ${cut}`);
    }
  });
  it('keeps a partial last line in the buffer for the next chunk', () => {
    const out = new StdoutBuffer(4);
    out.append(Buffer.from('a\nbc'), 0, 4);
    assert.equal(out.completeLines().toString(), 'a\n');
    out.take(2);
    out.append(Buffer.from('xd\ne'), 1, 5);
    assert.equal(out.completeLines().toString(), 'bcd\n');
    out.clear();
    assert.equal(out.completeLines().length, 0);
  });
  it('passes a raw (TTY) stream through', () => {
    const d = new FrameDemuxer(1);
    assert.equal(Buffer.concat([...d.push(Buffer.from('2026-01')), ...d.push(Buffer.from('-01T00:00:00Z x\n'))]).toString(), '2026-01-01T00:00:00Z x\n');
  });
});

describe('retention of inferences, deployment events and vanished containers’ cursors', () => {
  it('deletes what is past its days, keeps the rest and every event of a running deployment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefleet-inference-retention-'));
    const db = openDb(join(dir, 'r.db'));
    try {
      const now = 1_800_000_000;
      const day = 86400;
      syncNodes(db, [{ name: 'n1', groups: [], vars: {}, connection: 'local', host: 'n1', port: 22 }], now);
      const nodeId = (db.prepare('SELECT id FROM nodes').get() as { id: number }).id;
      const rows = [40, 31, 29, 1].map((ago, i) => ({ nodeId, deploymentId: null, model: 'lab/m', tag: 'v1', timeUnixMs: (now - ago * day) * 1000, record: { batch: 1, latencyMs: 1 }, source: 'push' as const, lineKey: BigInt(i + 1) }));
      inferenceStore(db).insert(rows);
      const base = { action: 'deploy' as const, registry: 'lab', repository: 'lab/m', tag: 'v1', image: 'r/lab/m:v1', target: { nodes: ['n1'] }, options: { env: {}, ports: [], volumes: [], restart: 'no' as const }, nodes: ['n1'] };
      await insertDeployment(db, { ...base, id: 'aaaaaaaaaaaa', nowMs: (now - 100 * day) * 1000 });
      await finishDeployment(db, 'aaaaaaaaaaaa', 'succeeded', null, (now - 100 * day) * 1000);
      await insertDeployment(db, { ...base, id: 'bbbbbbbbbbbb', nowMs: (now - 100 * day) * 1000 });
      db.prepare(`UPDATE deployments SET status = 'running', lease_expires_unix_ms = ? WHERE id = 'bbbbbbbbbbbb'`).run((now + 60) * 1000);
      await insertDeployment(db, { ...base, id: 'cccccccccccc', nowMs: (now - 10 * day) * 1000 });
      await finishDeployment(db, 'cccccccccccc', 'succeeded', null, (now - 10 * day) * 1000);
      const deleted = await applyInferenceRetention(db, { inferenceDays: 30, deploymentEventsDays: 90 }, now);
      assert.deepEqual(deleted, { inference: 2, deployment_events: 1 });
      assert.deepEqual((db.prepare('SELECT time FROM inference ORDER BY time').all() as { time: number }[]).map((r) => (now - r.time) / day), [29, 1]);
      assert.deepEqual((db.prepare('SELECT DISTINCT deployment_id AS id FROM deployment_events ORDER BY 1').all() as { id: string }[]).map((r) => r.id), ['bbbbbbbbbbbb', 'cccccccccccc']);

      const put = (containerId: string, updated: number) =>
        inferenceStore(db).commitLogBatch({ deploymentId: 'cccccccccccc', nodeId, containerId }, { logTimeUnixNs: 1n, linesAtTime: 1 }, [], { linesRead: 1, inferences: 0, ignored: 1, invalid: 0 }, updated);
      put('gone-long-ago', now - 8 * day);
      put('gone-recently', now - 1 * day);
      put('listed-but-idle', now - 30 * day);
      assert.equal(await pruneGoneCursors(db, nodeId, ['listed-but-idle'], now - 7 * day), 1);
      assert.deepEqual((db.prepare('SELECT container_id AS c FROM inference_cursors ORDER BY 1').all() as { c: string }[]).map((r) => r.c), ['gone-recently', 'listed-but-idle']);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('an inference backlog on a Podman node', { timeout: 180_000 }, () => {
  let lab: ModelLab;
  let db: Db;
  let pool: TransportPool;

  before(async () => {
    lab = await startModelLab('edgefleet-backlog-');
    db = openDb(lab.config.db);
    pool = new TransportPool({ knownHostsFile: lab.config.ssh.knownHostsFile, acceptNewHostKeys: false, privateKeyFile: '', agentSocket: '', user: 'root', connectTimeoutMs: 3000 });
    await pushModelImage(lab.registry.push, REPO, 'v1', { entrypoint: ['sh', '-c', SCRIPT] });
  });
  after(async () => {
    await pool?.closeAll();
    db?.close();
    await lab?.close();
  });

  it('drains in windows: a round cut after one window keeps it, the next reads the rest, each line once', async () => {
    const { config } = lab;
    const inventory = inventoryNodes(config);
    syncNodes(db, inventory, Math.floor(Date.now() / 1000));
    const d = await createDeployment({ db, config, inventory }, parseDeployRequest({ image: `${REPO}:v1`, nodes: [inventory[0]!.name] }, { registries: ['lab'] }));
    const s = await runDeployment({ db, config, pool, log: silentLogger, inventory }, d.id);
    assert.equal(s.status, 'succeeded', JSON.stringify(s.nodes));
    const engine = new Engine(pool.get(inventory[0]!), lab.engine.socketPath);
    for (let i = 0; !(await engine.logsTail(s.nodes[0]!.containerId!, 1)).includes('backlog written'); i++) {
      assert.ok(i < 200, 'the container never finished writing');
      await new Promise((r) => setTimeout(r, 100));
    }
    const deps = { db, config, pool, log: silentLogger, inventory };
    const stored = () => (db.prepare('SELECT COUNT(*) AS n FROM inference').get() as { n: number }).n;
    const cursor = () => db.prepare('SELECT lines_read AS linesRead, inferences, ignored_lines AS ignored FROM inference_cursors').get() as { linesRead: number; inferences: number; ignored: number };

    // A round whose budget ends at its first window: 64 KiB of lines kept, with their cursor.
    const first = await collectInference({ ...deps, window: { seconds: 3600, bytes: 64 << 10, budgetMs: 0 } });
    assert.equal(first.failed.length, 0, JSON.stringify(first.failed));
    const n1 = stored();
    assert.ok(n1 > 0 && n1 < TOTAL / 4, `first window: ${n1}`);
    assert.equal(cursor().inferences, n1, 'rows and cursor committed together');
    assert.equal(cursor().linesRead, n1 + cursor().ignored);

    // The rest, a second of log per request and 16 KiB per commit.
    const rest = await collectInference({ ...deps, window: { seconds: 1, bytes: 16 << 10, budgetMs: 60_000 } });
    assert.equal(rest.failed.length, 0, JSON.stringify(rest.failed));
    assert.equal(stored(), TOTAL);
    const ids = db.prepare('SELECT COUNT(DISTINCT input_id) AS n, MIN(CAST(input_id AS INTEGER)) AS lo, MAX(CAST(input_id AS INTEGER)) AS hi FROM inference').get();
    assert.deepEqual(ids, { n: TOTAL, lo: 0, hi: TOTAL - 1 });
    assert.equal(cursor().ignored, TOTAL / 1000 + 1, 'the garbage and the marker were counted, not stored');
    const again = await collectInference(deps);
    assert.equal(again.linesRead, 0, 'nothing read twice');

    // GET /inference/stats from SQL; the percentiles worked out here from what the model printed.
    const [st] = await inferenceStats(db, { fromUnixSeconds: 0, toUnixSeconds: Math.floor(Date.now() / 1000) + 60 });
    const sorted = Array.from({ length: TOTAL }, (_, i) => latencyOf(i)).sort((a, b) => a - b);
    assert.equal(st!.count, TOTAL);
    const { mean, ...rest2 } = st!.latencyMs!;
    assert.deepEqual(rest2, { min: 0.5, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: 96.5 });
    assert.ok(Math.abs(mean - sorted.reduce((a, b) => a + b, 0) / TOTAL) < 1e-9, String(mean));
    assert.deepEqual(st!.deploymentIds, [d.id]);
  });
});
