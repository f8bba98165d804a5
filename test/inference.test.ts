/**
 * Inference logging: the protocol parser (named table), the engine's log framing, the log path
 * (cursor: no line twice, none lost, across "hub restarts" = fresh stores over the same file),
 * the push path, and the stats, whose percentiles are checked against SQLite computing the
 * same nearest-rank definition on the same rows (ORDER BY … LIMIT 1 OFFSET k), not this code.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseInferenceLine, INFERENCE_LINE_MAX_BYTES } from '../shared/parse/inference.js';
import { demuxStream, parseLogTimestamp, splitTimestampedLines } from '../shared/engine/logs.js';
import { pushInference, readLogBatch, InferencePushError, type LogSource } from '../shared/collect/inference.js';
import { inferenceStats, percentile } from '../shared/collect/inferenceStats.js';
import { inferenceStore, openDb, syncNodes, insertDeployment, type Db } from '../shared/store/index.js';
import { lineKey, LogLineKeys, type InferenceWrite } from '../shared/store/inference.js';
import { Sha1AfterPrefix } from '../shared/store/sha1.js';
import { ROLLUP_SERIES, updateRollups } from '../shared/store/rollups.js';
import { detectAnomalies } from '../shared/detect/anomalies.js';

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-inference-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Docker's framing: 8-byte header (stream, 0, 0, 0, uint32 BE size), payload. */
export function frame(stream: 1 | 2, payload: string | Buffer): Buffer {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(body.length, 4);
  return Buffer.concat([h, body]);
}

describe('parseInferenceLine', () => {
  const cases: { name: string; line: string; expect: ReturnType<typeof parseInferenceLine> }[] = [
    {
      name: 'full line',
      line: '{"ts":1767225600123.5,"latency_ms":1.25,"preprocess_ms":0.25,"infer_ms":0.875,"postprocess_ms":0.125,"batch":1,"input_id":"iris-7","label":"setosa","score":0.97,"expected":"setosa"}',
      expect: { kind: 'inference', record: { timeUnixMs: 1767225600123.5, latencyMs: 1.25, preprocessMs: 0.25, inferMs: 0.875, postprocessMs: 0.125, batch: 1, inputId: 'iris-7', label: 'setosa', score: 0.97, expected: 'setosa' } },
    },
    // The old system's regex made 478246.1 of this.
    { name: '4.78e-05 stays 4.78e-05', line: '{"latency_ms":12,"score":4.78e-05,"label":"3"}', expect: { kind: 'inference', record: { latencyMs: 12, batch: 1, score: 0.0000478, label: '3' } } },
    { name: 'exponent latency', line: '{"latency_ms":1.5E+1}', expect: { kind: 'inference', record: { latencyMs: 15, batch: 1 } } },
    { name: 'numeric labels become text', line: '{"latency_ms":3,"label":2,"expected":2,"input_id":17}', expect: { kind: 'inference', record: { latencyMs: 3, batch: 1, label: '2', expected: '2', inputId: '17' } } },
    { name: 'RFC 3339 ts', line: '{"ts":"2026-01-01T00:00:00.250Z","latency_ms":1}', expect: { kind: 'inference', record: { timeUnixMs: 1767225600250, latencyMs: 1, batch: 1 } } },
    { name: 'error without latency', line: '{"error":"CUDA out of memory","input_id":"a"}', expect: { kind: 'inference', record: { batch: 1, error: 'CUDA out of memory', inputId: 'a' } } },
    { name: 'batch', line: '{"latency_ms":40,"batch":32}', expect: { kind: 'inference', record: { latencyMs: 40, batch: 32 } } },
    { name: 'unknown fields ignored', line: '{"latency_ms":1,"gpu":"orin"}', expect: { kind: 'inference', record: { latencyMs: 1, batch: 1 } } },
    { name: 'CRLF', line: '{"latency_ms":1}\r', expect: { kind: 'inference', record: { latencyMs: 1, batch: 1 } } },
    { name: 'empty', line: '', expect: { kind: 'ignored', reason: 'empty' } },
    { name: 'blank', line: '   \t', expect: { kind: 'ignored', reason: 'empty' } },
    { name: 'a log message', line: 'INFO loading model.onnx', expect: { kind: 'ignored', reason: 'not-json' } },
    { name: 'a Python tuple (the old format)', line: "('n01440764', 4.78e-05)", expect: { kind: 'ignored', reason: 'not-json' } },
    { name: 'broken JSON', line: '{"latency_ms": 1', expect: { kind: 'ignored', reason: 'not-json' } },
    { name: 'binary garbage', line: '{\u0000\u00ff\u0001', expect: { kind: 'ignored', reason: 'not-json' } },
    { name: 'a JSON log line of something else', line: '{"level":"info","msg":"ready"}', expect: { kind: 'ignored', reason: 'not-inference' } },
    { name: 'negative latency', line: '{"latency_ms":-1}', expect: { kind: 'invalid', reason: 'latency_ms must be a number of milliseconds ≥ 0, not "-1"' } },
    { name: 'latency as text', line: '{"latency_ms":"12"}', expect: { kind: 'invalid', reason: 'latency_ms must be a number of milliseconds ≥ 0, not "\\"12\\""' } },
    { name: 'batch 0', line: '{"latency_ms":1,"batch":0}', expect: { kind: 'invalid', reason: 'batch must be a whole number ≥ 1, not "0"' } },
    { name: 'ts in seconds', line: '{"latency_ms":1,"ts":1767225600}', expect: { kind: 'invalid', reason: 'ts "1767225600" is not a time after 2000 in unix milliseconds' } },
    { name: 'error null and no latency', line: '{"error":null}', expect: { kind: 'invalid', reason: 'latency_ms is missing (only an inference with an error may leave it out)' } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(parseInferenceLine(c.line), c.expect));

  it('a huge line is ignored unread', () => {
    const huge = `{"latency_ms":1,"label":"${'x'.repeat(INFERENCE_LINE_MAX_BYTES)}"}`;
    assert.deepEqual(parseInferenceLine(huge), { kind: 'ignored', reason: 'too-long' });
    // Multi-byte text is measured in bytes: 30000 × 3 bytes > 64 KiB.
    assert.deepEqual(parseInferenceLine(`{"latency_ms":1,"label":"${'가'.repeat(30000)}"}`), { kind: 'ignored', reason: 'too-long' });
  });
});

describe('engine log framing', () => {
  it('demultiplexes stdout, drops stderr, joins a line split across frames', () => {
    const buf = Buffer.concat([frame(1, '2026-01-01T00:00:00.000000001Z {"latency_ms":1}\n2026-01-01T00:00:00.5Z {"lat'), frame(2, '2026-01-01T00:00:00.6Z warning\n'), frame(1, 'ency_ms":2}\n')]);
    const { lines, partialBytes } = splitTimestampedLines(demuxStream(buf, 1));
    assert.equal(partialBytes, 0);
    assert.deepEqual(lines.map((l) => [l.timeUnixNs, l.text]), [
      [1767225600000000001n, '{"latency_ms":1}'],
      [1767225600500000000n, '{"latency_ms":2}'],
    ]);
  });
  it('passes TTY (raw) output through and holds back a last line without newline', () => {
    const { lines, partialBytes } = splitTimestampedLines(demuxStream(Buffer.from('2026-01-01T00:00:01Z a\n2026-01-01T00:00:02Z b'), 1));
    assert.deepEqual(lines.map((l) => l.text), ['a']);
    assert.equal(partialBytes, '2026-01-01T00:00:02Z b'.length);
  });
  it('timestamps: nanoseconds, offsets, garbage', () => {
    assert.equal(parseLogTimestamp('2026-01-01T09:00:00.123456789+09:00'), 1767225600123456789n);
    assert.equal(parseLogTimestamp('2026-01-01T00:00:00.1Z'), 1767225600100000000n);
    assert.equal(parseLogTimestamp('yesterday'), undefined);
  });
});

function fleetDb(name: string): { db: Db; nodeId: number; path: string } {
  const path = join(dir, name);
  const db = openDb(path);
  syncNodes(db, [{ name: 'pi-01', groups: [], vars: {}, connection: 'local', host: 'pi-01', port: 22 }], 1767225600);
  const nodeId = (db.prepare(`SELECT id FROM nodes WHERE name = 'pi-01'`).get() as { id: number }).id;
  return { db, nodeId, path };
}

const ts = (ns: bigint) => {
  const ms = ns / 1_000_000n;
  return `${new Date(Number(ms)).toISOString().slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
};

describe('log path: cursor', () => {
  it('stores every inference once across re-reads, "hub restarts", lines sharing a nanosecond and a partial last line', () => {
    const { db, nodeId, path } = fleetDb('cursor.db');
    const src: LogSource = { deploymentId: 'aaaaaaaaaaaa', nodeId, containerId: 'c1', model: 'lab/iris', tag: 'v1' };
    const base = 1767225600_000000000n;
    // 300 lines: every 7th garbage, two identical lines in the same nanosecond at 100/101.
    const lines: string[] = [];
    for (let i = 0; i < 300; i++) {
      const t = i === 101 ? base + 100n * 1_000_000n : base + BigInt(i) * 1_000_000n;
      lines.push(`${ts(t)} ${i % 7 === 3 && i !== 101 ? 'garbage ' + i : i === 101 ? '{"latency_ms":100}' : `{"latency_ms":${i}}`}\n`);
    }
    const log = lines.join('');
    let read = 0;
    // Read as the engine would answer at growing moments: whole-second `since` means every
    // answer repeats what the cursor already has; the store is reopened between reads.
    for (const upTo of [50, 101, 102, 180, 180, 250, 300]) {
      const s = openDb(path);
      const store = inferenceStore(s);
      const cur = store.cursor(src);
      let answer = lines.slice(0, upTo).join('');
      if (upTo === 180) answer += lines[180]!.slice(0, 20); // a line still being written
      const b = readLogBatch(Buffer.concat([frame(1, answer)]), cur, src);
      store.commitLogBatch(src, b.cursor, b.rows, b.counts, 0);
      read += b.counts.linesRead;
      s.close();
    }
    assert.equal(read, 300);
    const rows = db.prepare(`SELECT latency_ms FROM inference ORDER BY time_unix_ms, id`).all() as { latency_ms: number }[];
    const expected = lines.filter((l) => !l.includes('garbage')).length;
    assert.equal(rows.length, expected);
    assert.equal(rows.filter((r) => r.latency_ms === 100).length, 2, 'two identical lines in one nanosecond are two inferences');
    const c = db.prepare(`SELECT lines_read, inferences, ignored_lines FROM inference_cursors`).get() as Record<string, number>;
    assert.deepEqual(c, { lines_read: 300, inferences: expected, ignored_lines: 300 - expected });
    // Reading everything again from a lost cursor stores nothing new (the unique line key).
    const again = readLogBatch(frame(1, log), { logTimeUnixNs: 0n, linesAtTime: 0 }, src);
    assert.equal(inferenceStore(db).commitLogBatch({ ...src, containerId: 'c1' }, again.cursor, again.rows, again.counts, 0), 0);
  });
});

describe('line keys', () => {
  // Expected digests from node:crypto (OpenSSL), not from the code under test.
  const sha1First64 = (text: string) => createHash('sha1').update(text, 'utf8').digest().readBigInt64BE(0);
  it('SHA-1 after a prefix is SHA-1 of the whole, across block boundaries and multi-byte text', () => {
    for (const prefixBytes of [0, 1, 55, 56, 63, 64, 65, 119, 128, 130]) {
      const prefix = 'p'.repeat(prefixBytes);
      const sha = new Sha1AfterPrefix(prefix);
      for (let restBytes = 0; restBytes <= 140; restBytes++) {
        const rest = 'r'.repeat(restBytes);
        assert.equal(sha.first64(rest), sha1First64(prefix + rest), `prefix ${prefixBytes}, rest ${restBytes}`);
      }
      assert.equal(sha.first64('가é'.repeat(40)), sha1First64(prefix + '가é'.repeat(40)), `prefix ${prefixBytes}, multi-byte`);
    }
    assert.equal(new Sha1AfterPrefix('가'.repeat(30)).first64('x'), sha1First64('가'.repeat(30) + 'x'));
  });
  it('a log line’s key is 64 bits of SHA-1 over (container id, timestamp, occurrence), each ended by NUL', () => {
    const container = 'f0'.repeat(32);
    const keys = new LogLineKeys(container);
    for (const [ns, n] of [[1767225600000000000n, 1], [1767225600123456789n, 2], [1n, 1000]] as const) {
      assert.equal(keys.key(`${ns}\0`, n), sha1First64(`${container}\0${ns}\0${n}\0`));
      assert.equal(keys.key(`${ns}\0`, n), lineKey(container, ns, n));
    }
  });
});

describe('store: rows many to a statement', () => {
  it('stores the rows given, in their order, once each, when a batch mixes nodes, models and known keys', () => {
    const { db, nodeId } = fleetDb('multirow.db');
    syncNodes(db, [{ name: 'pi-01', groups: [], vars: {}, connection: 'local', host: 'pi-01', port: 22 }, { name: 'pi-02', groups: [], vars: {}, connection: 'local', host: 'pi-02', port: 22 }], 1767225600);
    const other = (db.prepare(`SELECT id FROM nodes WHERE name = 'pi-02'`).get() as { id: number }).id;
    const t0 = 1767225600_000;
    // Runs that share node, deployment, model, tag and source: 100 + 100 (full statements), 30, 1 (pi-02), 100 + 20 (tag v2).
    const rows: InferenceWrite[] = Array.from({ length: 351 }, (_, i) => ({
      nodeId: i === 230 ? other : nodeId,
      deploymentId: i < 100 ? 'aaaaaaaaaaaa' : null,
      model: 'lab/iris',
      tag: i > 230 ? 'v2' : 'v1',
      timeUnixMs: t0 + i * 10.5,
      record: { latencyMs: i / 4, batch: 1 + (i % 3), label: `l${i}`, ...(i % 7 === 0 ? { error: 'boom', expected: 'x', score: 0.5, inputId: `in-${i}`, preprocessMs: 1, inferMs: 2, postprocessMs: 3 } : {}) },
      source: i < 200 ? 'log' : 'push',
      lineKey: BigInt(i) - 100n,
    }));
    const store = inferenceStore(db);
    assert.equal(store.insert(rows.slice(0, 50)), 50);
    // The first 50 are known: only the other 301 are new.
    assert.equal(store.insert(rows), 301);
    const got = db.prepare(`SELECT node_id, deployment_id, model, tag, time, time_unix_ms, latency_ms, preprocess_ms, infer_ms, postprocess_ms, batch, input_id, label, score, expected, error, source, line_key FROM inference ORDER BY id`).safeIntegers(false).all();
    assert.deepEqual(
      got,
      rows.map((w) => ({
        node_id: w.nodeId, deployment_id: w.deploymentId, model: w.model, tag: w.tag, time: Math.floor(w.timeUnixMs / 1000), time_unix_ms: w.timeUnixMs,
        latency_ms: w.record.latencyMs ?? null, preprocess_ms: w.record.preprocessMs ?? null, infer_ms: w.record.inferMs ?? null, postprocess_ms: w.record.postprocessMs ?? null,
        batch: w.record.batch, input_id: w.record.inputId ?? null, label: w.record.label ?? null, score: w.record.score ?? null, expected: w.record.expected ?? null, error: w.record.error ?? null,
        source: w.source, line_key: Number(w.lineKey),
      })),
    );
  });
});

describe('push path', () => {
  it('validates, stores all or nothing, and stores a retried batch once', async () => {
    const { db } = fleetDb('push.db');
    const body = { node: 'pi-01', model: 'lab/iris', tag: 'v1', inferences: [{ ts: 1767225600000, latency_ms: 2, label: 'a', expected: 'a' }, { ts: 1767225600100, latency_ms: 3, label: 'b', expected: 'a' }] };
    assert.deepEqual(await pushInference(db, body, 1767225700000), { received: 2, stored: 2, duplicates: 0 });
    assert.deepEqual(await pushInference(db, body, 1767225700000), { received: 2, stored: 0, duplicates: 2 });
    await assert.rejects(() => pushInference(db, { ...body, inferences: [{ ts: 1767225600000, latency_ms: 1 }, { latency_ms: 'x' }] }, 1767225700000), (e: Error) => e instanceof InferencePushError && /inferences\[1\]: latency_ms must be/.test(e.message));
    await assert.rejects(() => pushInference(db, { ...body, inferences: [{ latency_ms: 1 }] }, 1767225700000), /ts is required/);
    await assert.rejects(() => pushInference(db, { ...body, node: 'nope' }, 1767225700000), /no node "nope"/);
    await assert.rejects(() => pushInference(db, { ...body, deployment: '0123456789ab' }, 1767225700000), /no deployment/);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM inference').get() as { n: number }).n, 2);
  });
});

describe('stats', () => {
  it('percentiles match SQLite’s nearest rank on the same rows; throughput, accuracy, errors, cold start, node conditions', async () => {
    const { db, nodeId } = fleetDb('stats.db');
    const t0 = 1767225600;
    await insertDeployment(db, { id: 'bbbbbbbbbbbb', action: 'deploy', registry: 'lab', repository: 'lab/iris', tag: 'v1', image: 'x/lab/iris:v1', target: { nodes: ['pi-01'] }, options: { env: {}, ports: [], volumes: [], restart: 'no' }, nodes: ['pi-01'], nowMs: t0 * 1000 - 4000 });
    db.prepare(`INSERT INTO temperature (node_id, time, sensor, celsius) VALUES (?, ?, 'cpu', 50), (?, ?, 'cpu', 60)`).run(nodeId, t0, nodeId, t0 + 60);
    db.prepare(`INSERT INTO cpu (node_id, time, cpu, usage_percent, user_percent, nice_percent, system_percent, iowait_percent, irq_percent, softirq_percent, steal_percent, idle_percent, interval_seconds) VALUES (?, ?, 'all', 30, 0,0,0,0,0,0,0,0,10)`).run(nodeId, t0 + 30);
    // 1000 inferences over 99.9 s, latencies from a skewed, seeded distribution; every 50th an error; labels right 3 times in 4.
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const rows = [];
    for (let i = 0; i < 1000; i++) {
      const latency = Math.round((1 + 20 * rand() ** 4) * 1000) / 1000;
      rows.push({ nodeId, deploymentId: 'bbbbbbbbbbbb', model: 'lab/iris', tag: 'v1', timeUnixMs: t0 * 1000 + i * 100, record: { latencyMs: latency, batch: 1, label: i % 4 === 0 ? 'b' : 'a', expected: 'a', ...(i % 50 === 49 ? { error: 'boom' } : {}) }, source: 'log' as const, lineKey: BigInt(i) });
    }
    inferenceStore(db).insert(rows);
    const [s, ...rest] = await inferenceStats(db, { fromUnixSeconds: t0, toUnixSeconds: t0 + 3600 });
    assert.equal(rest.length, 0);
    assert.ok(s);
    const ok = (db.prepare(`SELECT COUNT(*) AS n FROM inference WHERE error IS NULL`).get() as { n: number }).n;
    const sqlPercentile = (p: number) =>
      (db.prepare(`SELECT latency_ms AS v FROM inference WHERE error IS NULL ORDER BY latency_ms LIMIT 1 OFFSET ?`).get(Math.ceil((p / 100) * ok) - 1) as { v: number }).v;
    for (const p of [50, 90, 95, 99] as const) assert.equal(s.latencyMs![`p${p}`], sqlPercentile(p), `p${p}`);
    assert.equal(s.latencyMs!.max, (db.prepare(`SELECT MAX(latency_ms) AS v FROM inference WHERE error IS NULL`).get() as { v: number }).v);
    assert.equal(s.count, 1000);
    assert.equal(s.errors, 20);
    assert.equal(s.errorRate, 0.02);
    assert.equal(s.inferencesPerSecond, 999 / 99.9);
    // Right: i % 4 != 0 among non-errors. 980 non-errors; wrong ones: i % 4 == 0 and i % 50 != 49.
    const wrong = Array.from({ length: 1000 }, (_, i) => i).filter((i) => i % 4 === 0 && i % 50 !== 49).length;
    assert.equal(s.withExpected, 980);
    assert.equal(s.accuracy, (980 - wrong) / 980);
    assert.equal(s.coldStartMs, 4000);
    assert.equal(s.temperatureCelsius, 55);
    assert.equal(s.cpuUsagePercent, 30);
    assert.equal((await inferenceStats(db, { fromUnixSeconds: t0, toUnixSeconds: t0 + 3600, node: 'other' })).length, 0);
    assert.equal((await inferenceStats(db, { fromUnixSeconds: t0, toUnixSeconds: t0 + 3600, model: 'lab/iris', tag: 'v2' })).length, 0);
  });
  it('percentile: nearest rank', () => {
    assert.equal(percentile([], 50), undefined);
    assert.equal(percentile([5], 99), 5);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    assert.equal(percentile([1, 2, 3, 4], 51), 3);
    assert.equal(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 99), 99);
  });
  it('inference latency is a rollup and detector series over the inference table', async () => {
    assert.ok(ROLLUP_SERIES.some((s) => s.series === 'inference.latency_ms' && s.table === 'inference'));
    const { db, nodeId } = fleetDb('rollup.db');
    const t0 = 1767225600;
    inferenceStore(db).insert(Array.from({ length: 120 }, (_, i) => ({ nodeId, deploymentId: null, model: 'lab/iris', tag: 'v1', timeUnixMs: (t0 + i) * 1000, record: { latencyMs: i < 60 ? 2 : 4, batch: 1 }, source: 'push' as const, lineKey: BigInt(i) })));
    await updateRollups(db, t0 + 600);
    const r = db.prepare(`SELECT time, label, avg, count FROM rollup_1m WHERE series = 'inference.latency_ms' ORDER BY time`).all();
    assert.deepEqual(r, [
      { time: t0, label: 'lab/iris:v1', avg: 2, count: 60 },
      { time: t0 + 60, label: 'lab/iris:v1', avg: 4, count: 60 },
    ]);
    const d = await detectAnomalies({ db, nowUnixSeconds: t0 + 600, backlogSeconds: 3600 });
    assert.ok(d.samples >= 120);
  });
});
