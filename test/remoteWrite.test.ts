/**
 * Remote write against the real thing: `edgefleet hub` pushes every round of three synthetic
 * nodes to Debian's Prometheus 2.42 (--web.enable-remote-write-receiver). The PromQL
 * must give what edgefleet stored; then Prometheus is stopped for several rounds, the hub is
 * killed (SIGKILL) and started again meanwhile, Prometheus comes back — and every round must be
 * there exactly once. Then, in process against real HTTP servers: 4xx, 5xx/429, the queue bound,
 * and configuration errors.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { DEFAULT_CONFIG, ConfigError, type Config } from '../shared/config/config.js';
import type { Logger } from '../shared/domain/index.js';
import { flushRemoteWrite, queueRound, remoteWriteEndpoints } from '../shared/prometheus/remoteWrite.js';
import snappy from 'snappy';
import { encodeIdRow, encodeQueueRow, mergeIdRows, mergeQueueRows, roundColumnsOf, splitBatch } from '../shared/prometheus/backlog.js';
import { decodeWriteRequest, encodeLabels, encodeSeriesRequest, encodeWriteRequest, type EncodedSeries, type TimeSeries } from '../shared/prometheus/writeRequest.js';
import { openDb, remoteWriteStatesOf, type Db } from '../shared/store/index.js';
import { fakeFleet, tickFleet } from './harness/fakeProc.js';
import { startHub, type HubProcess } from './harness/hub.js';
import { freePort } from './harness/ports.js';
import { checkCpuBusy, checkMemAvailable, checkNetworkRates, rawSamples } from './harness/promChecks.js';
import { startPrometheus, type Prometheus } from './harness/prometheus.js';
import { until } from './harness/until.js';

const NODES = ['pi-a', 'pi-b', 'x86-c'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('remote write to Prometheus 2.42, through an outage and a hub crash', () => {
  let dir: string;
  let hub: HubProcess | undefined;
  let prom: Prometheus;
  let ticker: NodeJS.Timeout | undefined;
  let db: Database.Database;
  let hubPort: number;
  let stderrBefore = '';

  const startTheHub = async () => {
    hub = await startHub({ cwd: dir, port: hubPort, args: ['--interval', '1'], env: { EDGEFLEET_CONFIG: join(dir, 'edgefleet.yaml'), EDGEFLEET_LOG_LEVEL: 'info' } });
  };
  /** The hub's own view of the queue, from GET /metrics. */
  const queued = async () => {
    const text = await (await fetch(`${hub!.base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    const m = /^edgefleet_remote_write_queue_samples\{endpoint="[^"]*"\} (\d+)$/m.exec(text);
    const dropped = /^edgefleet_remote_write_dropped_samples_total\{endpoint="[^"]*"\} (\d+)$/m.exec(text);
    return { samples: m ? Number(m[1]) : NaN, dropped: dropped ? Number(dropped[1]) : NaN };
  };
  const roundsIn = async () => {
    const r = await prom.query('min(count_over_time(node_memory_MemAvailable_bytes[1h])) and count(node_memory_MemAvailable_bytes) == 3');
    return r.length ? Number(r[0]!.value![1]) : 0;
  };
  // A timeout shows what the hub and Prometheus said last.
  const waitFor = (what: string, ms: number, ok: () => Promise<boolean>) => until(what, ms, ok, { everyMs: 200, detail: () => `${hub?.stderr().slice(-3000)}\n${prom.log().slice(-2000)}` });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-rw-'));
    const { fakes } = fakeFleet(dir, NODES.map((name) => ({ name, groups: ['edge'] })));
    prom = await startPrometheus({ dir: join(dir, 'prom'), remoteWriteReceiver: true });
    hubPort = await freePort();
    writeFileSync(
      join(dir, 'edgefleet.yaml'),
      [
        'inventory: hosts.ini',
        'db: e.db',
        'prometheus:',
        '  job: lab',
        '  remoteWriteTimeoutSeconds: 2',
        '  flushSeconds: 0.8',
        '  retryMaxSeconds: 1',
        '  maxSamplesPerSend: 100',
        '  remoteWrite:',
        `    - url: ${prom.url}/api/v1/write`,
        '      headers: { X-Scope-OrgID: lab }',
      ].join('\n') + '\n',
    );
    await startTheHub();
    ticker = tickFleet(fakes, 400);
    db = new Database(join(dir, 'e.db'), { readonly: true, fileMustExist: true });
    await waitFor('7 rounds in Prometheus', 40_000, async () => (await roundsIn()) >= 7);
  });

  after(async () => {
    if (ticker) clearInterval(ticker);
    db?.close();
    await prom?.stop();
    await hub?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the same PromQL gives the numbers edgefleet stored, with job from prometheus.job', async () => {
    for (const node of NODES) {
      assert.ok((await checkNetworkRates(prom, db, node)) >= 5, node);
      // Rounds whose files did not change in between (a slow machine) give no CPU row: fewer.
      assert.ok((await checkCpuBusy(prom, db, node)) >= 2, node);
      assert.ok((await checkMemAvailable(prom, db, node)).length >= 7, node);
    }
    const up = await prom.query('edgefleet_node_up');
    assert.deepEqual(up.map((r) => [r.metric.instance, r.metric.job, r.metric.groups, r.value![1]]).sort(), NODES.map((n) => [n, 'lab', ',edge,', '1']));
  });

  it('Prometheus down for several rounds and the hub killed meanwhile: every round arrives, none twice', async () => {
    await prom.stop();
    await sleep(3500); // rounds queue up
    const during = await queued();
    assert.ok(during.samples > 0, `queue empty while Prometheus is down: ${JSON.stringify(during)}`);
    stderrBefore = hub!.stderr();
    await hub!.kill(); // SIGKILL: no shutdown, whatever was in flight is cut
    await sleep(500);
    await startTheHub();
    await sleep(2500); // more rounds, queued behind the first ones
    assert.ok((await queued()).samples >= during.samples, 'the restarted hub keeps the queue');
    await prom.start();
    await waitFor('the queue drains', 30_000, async () => (await queued()).samples === 0);
    clearInterval(ticker);
    ticker = undefined;
    await sleep(1500);
    // The hub keeps collecting: take what is stored now, then let the queue drain. A round is
    // queued in its own transaction, so every round of this snapshot is sent by then; rounds
    // stored later may be in Prometheus too, after the snapshot's (hence the prefix below).
    const stored = new Map(
      NODES.map((node) => {
        const id = (db.prepare('SELECT id FROM nodes WHERE name = ?').get(node) as { id: number }).id;
        const rounds = (db.prepare('SELECT time FROM memory WHERE node_id = ? ORDER BY time').all(id) as { time: number }[]).map((r) => r.time);
        const net = (db.prepare("SELECT rx_bytes FROM network WHERE node_id = ? AND iface = 'eth0' ORDER BY time").all(id) as { rx_bytes: number }[]).map((r) => r.rx_bytes);
        return [node, { rounds, net }] as const;
      }),
    );
    await waitFor('the last rounds drain', 10_000, async () => (await queued()).samples === 0);

    assert.equal((await queued()).dropped, 0);
    for (const node of NODES) {
      const { rounds, net } = stored.get(node)!;
      // Every stored round of the node is in Prometheus, once: the gauges carry the round's own time…
      const mem = await checkMemAvailable(prom, db, node);
      assert.deepEqual(mem.map(([t]) => t).slice(0, rounds.length), rounds, `${node}: rounds in Prometheus = rounds stored`);
      // …and the counters the probe's: one sample per stored round, in order, each the stored counter.
      const samples = await rawSamples(prom, `node_network_receive_bytes_total{instance="${node}",device="eth0"}`);
      assert.deepEqual(samples.map(([, v]) => v).slice(0, net.length), net, `${node}: one counter sample per round: Prometheus ${JSON.stringify(samples)} stored ${JSON.stringify(net)}`);
      assert.ok(samples.every(([t], i) => i === 0 || t > samples[i - 1]![0]));
      assert.ok((await checkNetworkRates(prom, db, node)) >= net.length - 2);
      assert.ok((await checkCpuBusy(prom, db, node)) >= 3);
    }
    // The outage was seen and retried; nothing was refused as out of order or duplicate (a request sent twice would be).
    assert.match(hub!.stderr() + stderrBefore, /remote write failed, will retry/);
    assert.doesNotMatch(hub!.stderr() + stderrBefore, /remote write rejected/);
  });
});

/** A real HTTP receiver whose answers the test scripts; it decodes what it gets. */
async function receiver(answer: (n: number, req: IncomingMessage, series: TimeSeries[]) => { status: number; body?: string; headers?: Record<string, string> }) {
  const got: { atMs: number; series: TimeSeries[]; headers: IncomingMessage['headers'] }[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const series = decodeWriteRequest(Buffer.concat(chunks)).timeseries;
      const a = answer(n++, req, series);
      if (a.status < 300) got.push({ atMs: Date.now(), series, headers: req.headers });
      res.writeHead(a.status, a.headers).end(a.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/write`;
  return { url, got, attempts: () => n, close: () => new Promise((r) => server.close(r)) };
}

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const timeSeries = (name: string, values: number[], afterMs = 0): TimeSeries[] =>
  values.map((v, i) => ({ labels: [{ name: '__name__', value: name }, { name: 'instance', value: `n${i}` }], samples: [{ value: v, timestamp: 1_790_000_000_000 + afterMs + i }] }));
const series = (name: string, values: number[], afterMs = 0): EncodedSeries[] => timeSeries(name, values, afterMs).map((s) => ({ labels: encodeLabels(s.labels), ...s.samples[0]! }));

describe('remote write, in process, against scripted receivers', () => {
  let dir: string;
  let db: Db;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-rw-unit-'));
  });
  after(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const configFor = (remoteWrite: unknown[], extra: Partial<Config['prometheus']> = {}): Config => ({
    ...DEFAULT_CONFIG,
    prometheus: { ...DEFAULT_CONFIG.prometheus, remoteWriteTimeoutSeconds: 2, retryMaxSeconds: 1, remoteWrite, ...extra },
  });
  const fresh = (name: string) => {
    db?.close();
    db = openDb(join(dir, `${name}.db`));
    return db;
  };
  /** Each of `rounds` queued as a round is (one call each); the last call's result. */
  const queue = async (d: Db, endpoints: string[], rounds: EncodedSeries[][], max = 1e9) => {
    let last;
    for (const b of rounds.length ? rounds : [[]]) last = await queueRound(d, b, { endpoints, maxSamplesPerSend: 1000, queueMaxSamples: max });
    return last!;
  };

  it('a 4xx is logged with the response and dropped, never retried; the next request still goes', async () => {
    // One series a request: the request holding series a is refused.
    const r = await receiver((_n, _req, got) => (got[0]!.labels[0]!.value === 'a' ? { status: 400, body: 'out of order sample' } : { status: 204 }));
    try {
      const config = configFor([{ url: r.url, bearerToken: 'sekrit-token-123' }], { maxSamplesPerSend: 1 });
      const [e] = remoteWriteEndpoints(config);
      const d = fresh('4xx');
      await queue(d, [e!.name], [series('a', [1]), series('b', [2])]);
      const log = capture();
      const [s] = await flushRemoteWrite({ db: d, config, log, deadlineMs: Date.now() + 5000 });
      assert.equal(r.attempts(), 2, 'one try for the rejected request, one for the next');
      assert.deepEqual(r.got.map((g) => g.series[0]!.labels[0]!.value), ['b']);
      assert.equal(r.got[0]!.headers.authorization, 'Bearer sekrit-token-123');
      assert.equal(r.got[0]!.headers['content-encoding'], 'snappy');
      assert.equal(r.got[0]!.headers['x-prometheus-remote-write-version'], '0.1.0');
      assert.equal(s!.droppedSamples, 1);
      assert.match(log.lines.join('\n'), /error remote write rejected, request dropped \(not retried\).*HTTP 400: out of order sample/);
      assert.doesNotMatch(log.lines.join('\n'), /sekrit/);
      const [state] = (await remoteWriteStatesOf(d));
      assert.deepEqual([state!.queuedSamples, state!.sentSamples, state!.droppedSamples], [0, 1, 1]);
    } finally {
      await r.close();
    }
  });

  it('5xx and 429 are retried with growing waits (Retry-After kept), the backlog then sent merged', async () => {
    const r = await receiver((n) => (n === 0 ? { status: 503 } : n === 1 ? { status: 500 } : n === 2 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 204 }));
    try {
      const config = configFor([{ url: r.url }]);
      const d = fresh('5xx');
      // Two rounds of the same two series, queued before the first try.
      await queue(d, [remoteWriteEndpoints(config)[0]!.name], [series('x', [1, 2]), series('x', [3, 4], 10_000)]);
      const log = capture();
      const t0 = Date.now();
      const [s] = await flushRemoteWrite({ db: d, config, log, deadlineMs: Date.now() + 8000 });
      const tookMs = Date.now() - t0;
      assert.equal(r.attempts(), 4);
      assert.equal(s!.retries, 3);
      assert.deepEqual(r.got.map((g) => g.series.map((x) => x.samples.map((y) => y.value))), [[[1, 3], [2, 4]]]);
      // Waits: 250 ms, 500 ms, then Retry-After's 1 s: at least 1.75 s in all.
      assert.ok(tookMs >= 1700, `${tookMs} ms`);
      assert.match(log.lines.join('\n'), /warn remote write failed, will retry.*HTTP 503/);
    } finally {
      await r.close();
    }
  });

  it('a flush that runs out of time leaves the rest queued with its retry time, for the next round', async () => {
    const r = await receiver(() => ({ status: 503 }));
    try {
      const config = configFor([{ url: r.url }], { retryMaxSeconds: 30 });
      const d = fresh('deadline');
      const name = remoteWriteEndpoints(config)[0]!.name;
      await queue(d, [name], [series('x', [1])]);
      const [s] = await flushRemoteWrite({ db: d, config, log: capture(), deadlineMs: Date.now() + 1200 });
      assert.ok(['backoff', 'deadline'].includes(s!.stopped ?? ''), JSON.stringify(s));
      const [state] = (await remoteWriteStatesOf(d));
      assert.equal(state!.queuedSamples, 1);
      assert.ok(state!.retryAtUnixMs > Date.now() - 100 && state!.attempts >= 2, JSON.stringify(state));
      const n = r.attempts();
      // Before its retry time, a flush sends nothing.
      await flushRemoteWrite({ db: d, config, log: capture(), deadlineMs: Date.now() + 100 });
      assert.equal(r.attempts(), n);
    } finally {
      await r.close();
    }
  });

  it('rows queued by earlier versions are sent first, in queue order: a WriteRequest as it is (format 1), labelled columns merged (format 2)', async () => {
    const r = await receiver(() => ({ status: 204 }));
    try {
      const config = configFor([{ url: r.url }]);
      const name = remoteWriteEndpoints(config)[0]!.name;
      const d = fresh('legacy');
      // As migrations 10 and 15's code queued them: a snappy WriteRequest; two rounds of columns with their labels.
      d.prepare('INSERT INTO remote_write_endpoints (endpoint, acked_id) VALUES (?, 0)').run(name);
      const legacy = d.prepare('INSERT INTO remote_write_queue (created_unix_ms, samples, series, format, round, payload) VALUES (?, ?, ?, ?, ?, ?)');
      legacy.run(Date.now(), 2, 2, 1, null, encodeWriteRequest(timeSeries('old1', [1, 2])));
      const r1 = Number(legacy.run(Date.now(), 2, 2, 2, null, encodeQueueRow(roundColumnsOf(series('old2', [3, 4])))).lastInsertRowid);
      d.prepare('UPDATE remote_write_queue SET round = id WHERE id = ?').run(r1);
      const r2 = Number(legacy.run(Date.now(), 2, 2, 2, null, encodeQueueRow(roundColumnsOf(series('old2', [5, 6], 10_000)))).lastInsertRowid);
      d.prepare('UPDATE remote_write_queue SET round = id WHERE id = ?').run(r2);
      // Then this version's rows (series ids): a round of the same series as format 2, later.
      await queue(d, [name], [series('old2', [7, 8], 20_000)]);
      const [s] = await flushRemoteWrite({ db: d, config, log: capture(), deadlineMs: Date.now() + 5000 });
      const got = r.got.map((g) => g.series.map((x) => [x.labels[0]!.value, x.labels[1]!.value, x.samples.map((y) => y.value)]));
      assert.deepEqual(got, [
        [['old1', 'n0', [1]], ['old1', 'n1', [2]]],
        [['old2', 'n0', [3, 5]], ['old2', 'n1', [4, 6]]],
        [['old2', 'n0', [7]], ['old2', 'n1', [8]]],
      ]);
      assert.deepEqual([s!.sentSamples, s!.droppedSamples, (await remoteWriteStatesOf(d))[0]!.queuedSamples], [8, 0, 0]);
      assert.equal((d.prepare('SELECT COUNT(*) AS n FROM remote_write_queue').get() as { n: number }).n, 0, 'sent rows are deleted');
    } finally {
      await r.close();
    }
  });

  it('the queue keeps at most prometheus.queueMaxSamples: the oldest go, with a warning and the count', async () => {
    const d = fresh('bound');
    const first = await queue(d, ['a', 'b'], [series('r1', [1, 2, 3])], 5);
    assert.equal(first.droppedSamples, 0);
    const second = await queue(d, ['a', 'b'], [series('r2', [4, 5, 6])], 5);
    assert.deepEqual([second.droppedSamples, second.droppedRequests, second.droppedFor.sort(), second.queuedSamples], [3, 1, ['a', 'b'], 3]);
    const states = (await remoteWriteStatesOf(d));
    assert.deepEqual(states.map((s) => [s.endpoint, s.queuedSamples, s.droppedSamples]), [['a', 3, 3], ['b', 3, 3]]);
    // An endpoint dropped from the configuration is forgotten, and no longer holds rows back.
    await queue(d, ['a'], [], 5);
    assert.deepEqual((await remoteWriteStatesOf(d)).map((s) => s.endpoint), ['a']);
  });

  it('encodes the WriteRequest protobufjs decodes back, the same bytes as encoding it whole', () => {
    const c = roundColumnsOf(series('m', [1.5, -2, 1e300]));
    // Format 3 (series ids, the labels by id) and format 2 (labels in the row): the same request.
    const byId = mergeIdRows([{ payload: encodeIdRow(c, Uint32Array.of(7, 8, 9)), samples: 3, round: 1 }]);
    assert.deepEqual([...byId.ids], [7, 8, 9]);
    const req = encodeSeriesRequest({ ...byId, labels: c.labels });
    assert.deepEqual(decodeWriteRequest(req).timeseries, timeSeries('m', [1.5, -2, 1e300]));
    assert.deepEqual(snappy.uncompressSync(req), snappy.uncompressSync(encodeWriteRequest(timeSeries('m', [1.5, -2, 1e300]))));
    assert.deepEqual(encodeSeriesRequest(mergeQueueRows([{ payload: encodeQueueRow(c), samples: 3, round: 1 }])), req);
  });

  it('merges queued rounds per series, in queue order, into requests of whole series', () => {
    // Three rounds of series a, b, c; the second lists them in another order, the third lacks b
    // and repeats the second's time for c (left out: Prometheus would refuse the request).
    const l = (n: string) => [{ name: '__name__', value: n }];
    const enc = (n: string, value: number, timestamp: number): EncodedSeries => ({ labels: encodeLabels(l(n)), value, timestamp });
    const rows = [
      [enc('a', 1, 1000), enc('b', 2, 1000), enc('c', 3, 1000)],
      [enc('c', 13, 2000), enc('a', 11, 2000), enc('b', 12, 2000)],
      [enc('a', 21, 3000), enc('c', 99, 2000)],
    ];
    // Format 3: the ids a=1, b=2, c=3 stand for the labels; format 2: the labels in the row.
    const idOf = { a: 1, b: 2, c: 3 } as Record<string, number>;
    const name = (s: EncodedSeries) => String.fromCharCode(s.labels[s.labels.length - 1]!);
    const byId = mergeIdRows(rows.map((r, k) => ({ payload: encodeIdRow(roundColumnsOf(r), Uint32Array.from(r, (s) => idOf[name(s)]!)), samples: r.length, round: k })));
    assert.deepEqual([...byId.ids], [1, 2, 3]);
    const m = { ...byId, labels: [...byId.ids].map((id) => encodeLabels(l('_abc'[id]!))) };
    assert.deepEqual(snappy.uncompressSync(encodeSeriesRequest(mergeQueueRows(rows.map((r, k) => ({ payload: encodeQueueRow(roundColumnsOf(r)), samples: r.length, round: k }))))), snappy.uncompressSync(encodeSeriesRequest(m)));
    const want: TimeSeries[] = [
      { labels: l('a'), samples: [{ value: 1, timestamp: 1000 }, { value: 11, timestamp: 2000 }, { value: 21, timestamp: 3000 }] },
      { labels: l('b'), samples: [{ value: 2, timestamp: 1000 }, { value: 12, timestamp: 2000 }] },
      { labels: l('c'), samples: [{ value: 3, timestamp: 1000 }, { value: 13, timestamp: 2000 }] },
    ];
    assert.equal(m.duplicates, 1);
    assert.deepEqual(snappy.uncompressSync(encodeSeriesRequest(m)), snappy.uncompressSync(encodeWriteRequest(want)));
    // At most 4 samples a request, a series never split: [a] (3), [b, c] (4).
    assert.deepEqual(splitBatch(m, 4), [{ from: 0, to: 1, samples: 3, merged: true }, { from: 1, to: 3, samples: 4, merged: true }]);
    assert.deepEqual(decodeWriteRequest(encodeSeriesRequest(m, 1, 3)).timeseries, want.slice(1));
  });

  it('refuses bad configuration with the entry and the key', () => {
    const bad = (entry: unknown, msg: RegExp) => assert.throws(() => remoteWriteEndpoints(configFor([entry])), (e: Error) => e instanceof ConfigError && msg.test(e.message));
    bad({ url: 'ftp://x' }, /remoteWrite\[0\]\.url" must be http or https/);
    bad({ url: 'not a url' }, /remoteWrite\[0\]\.url" is not a URL/);
    bad({ url: 'http://x/w', bearerToken: 't', basicAuth: { username: 'u', password: 'p' } }, /basicAuth and bearerToken exclude each other/);
    bad({ url: 'http://x/w', headers: { 'Content-Encoding': 'gzip' } }, /"Content-Encoding" is set by edgefleet/);
    bad({ url: 'http://x/w', nope: 1 }, /unknown key "nope"/);
    bad({ url: 'http://x/w', maxInFlight: 0 }, /remoteWrite\[0\]\.maxInFlight" must be a whole number from 1 to 64 \(requests sent at once\), not 0/);
    bad({ url: 'http://x/w', maxInFlight: '4' }, /maxInFlight" must be a whole number/);
    assert.throws(() => remoteWriteEndpoints(configFor([{ url: 'http://x/w' }, { url: 'http://x/w' }])), /two endpoints named "http:\/\/x\/w"/);
    const [e] = remoteWriteEndpoints(configFor([{ url: 'https://u:p%40ss@mimir.lab/api/v1/push?org=1', basicAuth: undefined }]));
    assert.equal(e!.name, 'https://mimir.lab/api/v1/push');
    assert.equal(e!.headers.authorization, `Basic ${Buffer.from('u:p@ss').toString('base64')}`);
    assert.doesNotMatch(e!.url, /u:p/);
  });
});
