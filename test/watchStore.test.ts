/**
 * The anomaly and geocode store functions (shared/store/anomalies.ts, geocode.ts) on both
 * stores, SQLite and a real PostgreSQL 15 (test/harness/stores.ts): one text of SQL through the
 * store's SQL port. Expected values are the rows written, worked out by hand.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { NodeSpec } from '../shared/domain/index.js';
import {
  anomalyStore,
  geocoderServerState,
  geocoderSlots,
  getGeocodeEntry,
  listAnomalies,
  listGeocodeEntries,
  nodeLocations,
  readSamplesPage,
  recordGeocoderAnswer,
  recordGeocoderOutage,
  saveGeocodeFailure,
  saveGeocodeResult,
  updateNodeLocation,
  type EpisodeWrite,
  type RoundWrite,
  type Store,
} from '../shared/store/index.js';
import { openPgStore } from '../shared/store/pgStore.js';
import { eachStore } from './harness/stores.js';

const T0 = 1_790_000_000 - (1_790_000_000 % 86400); // a UTC midnight
const spec = (name: string, vars: Record<string, unknown> = {}): NodeSpec => ({ name, groups: [], vars: { ansible_host: name, ...vars }, connection: 'ssh', host: name, port: 22 });
const idOf = async (s: Store, name: string) => (await s.listNodes()).find((n) => n.name === name)!.id;

const episode = (nodeId: number, over: Partial<EpisodeWrite> = {}): EpisodeWrite => ({
  nodeId, series: 'temperature.celsius', label: 'cpu', detector: 'rule', kind: 'temperature_high', startUnixSeconds: T0, endUnixSeconds: null, lastUnixSeconds: T0,
  peakScore: 1, peakValue: 90, peakUnixSeconds: T0, samples: 1, message: 'cpu at 90 °C', ...over,
});

/** One round of two temperature sensors per node at `t`. */
const round = (nodes: string[], t: number, celsius: (node: string, sensor: number) => number): RoundWrite => ({
  timeUnixSeconds: t, startedUnixMs: t * 1000, kinds: ['temperature'], counters: [],
  readings: nodes.map((node) => ({
    node, timeUnixSeconds: t,
    temperature: [0, 1].map((i) => ({ source: 'thermal_zone' as const, sensor: `thermal_zone${i}`, type: 'cpu-thermal', celsius: celsius(node, i) })),
  })),
  runs: nodes.map((node) => ({ node, kind: 'temperature' as const, success: true, durationMs: 1, rows: 2 })),
  outcomes: nodes.map((name) => ({ name, status: 'up' as const, seenUnixSeconds: t })),
});

eachStore('anomaly store', (k) => {
  it('saves detector states and episodes together; reads them back by series and open episode; lists with filters, newest first', async () => {
    const s = await k.open();
    await s.syncNodes([spec('a'), spec('b')], T0);
    const a = await idOf(s, 'a');
    const b = await idOf(s, 'b');
    const st = anomalyStore(s.sql);
    const hot = episode(a);
    const disk = episode(b, { series: 'storage.used_percent', label: '/', kind: 'disk_full', startUnixSeconds: T0 + 100, lastUnixSeconds: T0 + 200, peakValue: 95, message: 'disk / 95 % used' });
    await st.save(a, [{ series: 'temperature.celsius', label: 'cpu', detector: 'likelihood', cursorUnixSeconds: T0 + 50, state: { n: 3, mean: 41.5 } }], [hot]);
    await st.save(b, [{ series: 'storage.used_percent', label: '/', detector: 'likelihood', cursorUnixSeconds: T0 + 200, stateJson: '{"n":1}' }], [disk]);
    assert.ok(hot.id! > 0 && disk.id! > hot.id!, 'ids given by the database, in order');

    const states = await st.detectorStates(a);
    assert.deepEqual([...states.keys()], ['temperature.celsius\0cpu']);
    const sa = states.get('temperature.celsius\0cpu')!;
    assert.deepEqual([sa.detector, sa.cursorUnixSeconds, sa.state()], ['likelihood', T0 + 50, { n: 3, mean: 41.5 }]);
    const open = await st.openEpisodes(a);
    assert.deepEqual([...open.keys()], ['temperature.celsius\0cpu\0rule\0temperature_high']);
    assert.deepEqual(open.get('temperature.celsius\0cpu\0rule\0temperature_high'), { ...hot, id: hot.id });

    // Extend and close the first; a state saved again replaces the row.
    Object.assign(hot, { lastUnixSeconds: T0 + 20, samples: 3, peakValue: 93, peakUnixSeconds: T0 + 10, endUnixSeconds: T0 + 20, message: 'cpu at 93 °C' });
    await st.save(a, [{ series: 'temperature.celsius', label: 'cpu', detector: 'likelihood', cursorUnixSeconds: T0 + 60, state: { n: 4 } }], [hot]);
    assert.deepEqual((await st.openEpisodes(a)).size, 0);
    assert.deepEqual((await st.detectorStates(a)).get('temperature.celsius\0cpu')!.state(), { n: 4 });

    const all = await listAnomalies(s.sql);
    assert.deepEqual(all.map((x) => [x.node, x.kind, x.startUnixSeconds, x.endUnixSeconds, x.samples, x.peakValue]), [
      ['b', 'disk_full', T0 + 100, null, 1, 95],
      ['a', 'temperature_high', T0, T0 + 20, 3, 93],
    ]);
    assert.deepEqual(Object.keys(all[0]!).sort(), ['detector', 'endUnixSeconds', 'id', 'kind', 'label', 'lastUnixSeconds', 'message', 'node', 'peakScore', 'peakUnixSeconds', 'peakValue', 'samples', 'series', 'startUnixSeconds'].sort());
    assert.deepEqual((await listAnomalies(s.sql, { open: true })).map((x) => x.node), ['b']);
    assert.deepEqual((await listAnomalies(s.sql, { node: 'a' })).map((x) => x.kind), ['temperature_high']);
    // Closed at T0+20: not in "since T0+21"; the open one always is.
    assert.deepEqual((await listAnomalies(s.sql, { sinceUnixSeconds: T0 + 21 })).map((x) => x.node), ['b']);
    assert.deepEqual((await listAnomalies(s.sql, { sinceUnixSeconds: T0 + 20 })).map((x) => x.node), ['b', 'a']);
    assert.equal((await listAnomalies(s.sql, { limit: 1 })).length, 1);
    await s.close();
  });

  it('a save that fails stores nothing of it (states nor episodes) and gives no id; a state that is not JSON reads as undefined', async () => {
    const s = await k.open();
    await s.syncNodes([spec('a')], T0);
    const a = await idOf(s, 'a');
    const st = anomalyStore(s.sql);
    const good = episode(a);
    const bad = episode(a, { kind: 'x', message: null as unknown as string }); // message is NOT NULL
    await assert.rejects(st.save(a, [{ series: 'cpu.usage_percent', label: 'all', detector: 'd', cursorUnixSeconds: T0, state: {} }], [good, bad]));
    assert.equal(good.id, undefined);
    assert.equal((await st.detectorStates(a)).size, 0);
    assert.deepEqual(await listAnomalies(s.sql), []);
    await s.sql.run("INSERT INTO detector_state (node_id, series, label, detector, cursor_unix_seconds, state_json) VALUES (?, 'load.load1', '', 'd', ?, '{not json')", [a, T0]);
    assert.equal((await st.detectorStates(a)).get('load.load1\0')!.state(), undefined);
    await s.close();
  });

  it('reads raw samples in pages by time, across days (partitions on PostgreSQL), never splitting a second', async () => {
    const s = await k.open();
    await s.syncNodes([spec('a'), spec('b')], T0);
    // Rounds every 10 s from 20 s before a UTC midnight to 20 s after: times T-20 … T+20, 2 rows each.
    const T = T0 + 86400;
    for (let t = T - 20; t <= T + 20; t += 10) await s.writeRound(round(['a', 'b'], t, (node, i) => (node === 'a' ? 40 : 60) + i + (t - T) / 10));
    const a = await idOf(s, 'a');
    const cols = ['sensor', 'celsius'];
    // Within a second the order is the database's: compare sorted by time, then sensor.
    const page = async (after: number, until: number, limit: number, c = cols) => {
      const p = await readSamplesPage(s.sql, 'temperature', c, a, after, until, limit);
      return { ...p, rows: p.rows.sort((x, y) => (x[0] as number) - (y[0] as number) || String(x[1]).localeCompare(String(y[1]))) };
    };
    // limit 5: 5 rows end in the middle of the third second, which moves to the next page.
    const p1 = await page(T - 30, T + 20, 5);
    assert.deepEqual(p1.rows, [[T - 20, 'thermal_zone0', 38], [T - 20, 'thermal_zone1', 39], [T - 10, 'thermal_zone0', 39], [T - 10, 'thermal_zone1', 40]]);
    assert.deepEqual([p1.throughUnixSeconds, p1.last], [T - 10, false]);
    const p2 = await page(p1.throughUnixSeconds, T + 20, 5);
    assert.deepEqual(p2.rows.map((r) => r[0]), [T, T, T + 10, T + 10]);
    assert.deepEqual([p2.throughUnixSeconds, p2.last], [T + 10, false]);
    const p3 = await page(p2.throughUnixSeconds, T + 20, 5);
    assert.deepEqual(p3.rows, [[T + 20, 'thermal_zone0', 42], [T + 20, 'thermal_zone1', 43]]);
    assert.deepEqual([p3.throughUnixSeconds, p3.last], [T + 20, true]);
    // A page smaller than one second's rows: the whole second, alone.
    const one = await page(T - 30, T + 20, 1);
    assert.deepEqual([one.rows.length, one.throughUnixSeconds, one.last], [2, T - 20, false]);
    // Expressions over the columns, with a filter as the detector writes them.
    const expr = await page(T, T + 10, 100, ['sensor', "CASE WHEN sensor = 'thermal_zone1' THEN (celsius * 2) END"]);
    assert.deepEqual(expr.rows, [[T + 10, 'thermal_zone0', null], [T + 10, 'thermal_zone1', 84]]);
    await s.close();
  });
});

eachStore('geocode store', (k) => {
  const ok = { address: 'seoul', query: 'Seoul', latitude: 37.5665, longitude: 126.978, displayName: '서울특별시', precision: 'town' as const, provider: 'openstreetmap', server: 'http://geo', nowUnixSeconds: 1000 };

  it('the cache: a result, a failure that keeps the location found before, the failure count reset by a success; invalid locations refused', async () => {
    const s = await k.open();
    await saveGeocodeResult(s.sql, ok);
    let e = (await getGeocodeEntry(s.sql, 'seoul'))!;
    assert.deepEqual(e, { address: 'seoul', query: 'Seoul', latitude: 37.5665, longitude: 126.978, displayName: '서울특별시', precision: 'town', provider: 'openstreetmap', server: 'http://geo', lookedUpUnixSeconds: 1000, status: 'ok', error: null, attempts: 0, lastAttemptUnixSeconds: 1000, nextRetryUnixSeconds: null });
    await saveGeocodeFailure(s.sql, { address: 'seoul', status: 'pending', error: 'timeout', attempts: 2, nextRetryUnixSeconds: 1600, server: 'http://geo', nowUnixSeconds: 1300 });
    e = (await getGeocodeEntry(s.sql, 'seoul'))!;
    assert.deepEqual([e.status, e.error, e.attempts, e.lastAttemptUnixSeconds, e.nextRetryUnixSeconds, e.latitude, e.longitude, e.lookedUpUnixSeconds], ['pending', 'timeout', 2, 1300, 1600, 37.5665, 126.978, 1000]);
    await saveGeocodeFailure(s.sql, { address: 'nowhere', status: 'failed', error: 'no match', attempts: 1, nextRetryUnixSeconds: 1400, server: 'http://geo', nowUnixSeconds: 1100 });
    await saveGeocodeResult(s.sql, { ...ok, nowUnixSeconds: 2000 });
    e = (await getGeocodeEntry(s.sql, 'seoul'))!;
    assert.deepEqual([e.status, e.error, e.attempts, e.nextRetryUnixSeconds, e.lookedUpUnixSeconds], ['ok', null, 0, null, 2000]);
    await assert.rejects(saveGeocodeResult(s.sql, { ...ok, address: 'bad', latitude: 91 }), /refusing to store an invalid location 91,126.978/);
    assert.deepEqual((await listGeocodeEntries(s.sql)).map((x) => [x.address, x.status, x.latitude]), [['nowhere', 'failed', null], ['seoul', 'ok', 37.5665]]);
    assert.equal(await getGeocodeEntry(s.sql, 'bad'), undefined);
    await s.close();
  });

  it("nodes' locations: set, kept when the coordinates are not given, cleared with null; removed nodes left out", async () => {
    const s = await k.open();
    await s.syncNodes([spec('a'), spec('b')], 100);
    await updateNodeLocation(s.sql, { name: 'a', address: 'seoul', latitude: 37.5, longitude: 127, source: 'geocoded', precision: 'town', error: null, nowUnixSeconds: 200 });
    await updateNodeLocation(s.sql, { name: 'a', address: 'seoul', source: 'pending', error: 'timeout', nowUnixSeconds: 300 });
    let loc = await nodeLocations(s.sql);
    assert.deepEqual(loc.get('a'), { name: 'a', address: 'seoul', latitude: 37.5, longitude: 127, source: 'pending', precision: 'town', error: 'timeout', unixSeconds: 200 });
    assert.deepEqual(loc.get('b'), { name: 'b', address: null, latitude: null, longitude: null, source: null, precision: null, error: null, unixSeconds: null });
    await updateNodeLocation(s.sql, { name: 'a', address: null, latitude: null, longitude: null, source: null, error: null, nowUnixSeconds: 400 });
    assert.deepEqual(await nodeLocations(s.sql).then((m) => m.get('a')), { name: 'a', address: null, latitude: null, longitude: null, source: null, precision: null, error: null, unixSeconds: 400 });
    await assert.rejects(updateNodeLocation(s.sql, { name: 'a', address: null, latitude: 10, longitude: 181, source: 'inventory', error: null, nowUnixSeconds: 500 }), /invalid location/);
    await s.syncNodes([spec('a')], 600);
    loc = await nodeLocations(s.sql);
    assert.deepEqual([...loc.keys()], ['a']);
    const row = (await s.listNodes()).find((n) => n.name === 'a')!;
    assert.deepEqual([row.latitude, row.longitude, row.locationUnixSeconds], [null, null, 400]);
    await s.close();
  });

  it("geocoder slots: a request claims the present only, one within the interval across processes at once; a release pushes the next; outages and answers", async () => {
    const s = await k.open();
    // A second process on the same database (PostgreSQL: another pool; SQLite: the one file's handle).
    const other = k.name === 'postgres' ? await openPgStore(s.where) : s;
    const a = geocoderSlots(s.sql);
    const b = geocoderSlots(other.sql);
    assert.equal(await a.reserve('http://geo', 10_000, 1000), 10_000, 'no row yet: claimed now');
    assert.equal(await a.reserve('http://geo', 10_000, 1000), 11_000, 'taken: the next free time, not claimed');
    assert.equal(await b.reserve('http://geo', 10_999, 1000), 11_000);
    assert.equal(await b.reserve('http://geo', 11_000, 1000), 11_000, 'free at 11,000: claimed');
    // Eight at once from two processes at the same moment: one claims it, seven are told 21,000.
    const got = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).reserve('http://geo', 20_000, 1000)));
    assert.deepEqual([...got].sort((x, y) => x - y), [20_000, ...Array(7).fill(21_000)]);
    // The request ended late: nothing before its end + the interval.
    await a.release('http://geo', 70_000.4, 1000);
    assert.equal(await b.reserve('http://geo', 71_000, 1000), 71_001);
    await a.release('http://geo', 100, 1000); // an earlier end never moves the next back
    assert.equal(await b.reserve('http://geo', 71_000, 1000), 71_001);
    assert.equal(await b.reserve('http://geo', 71_001, 1000), 71_001, 'claimed');

    assert.deepEqual(await geocoderServerState(s.sql, 'http://other'), { failures: 0, retryAfterUnixSeconds: null, lastError: null });
    await recordGeocoderOutage(s.sql, 'http://geo', 2, 5000, 'connect ECONNREFUSED');
    assert.deepEqual(await geocoderServerState(other.sql, 'http://geo'), { failures: 2, retryAfterUnixSeconds: 5000, lastError: 'connect ECONNREFUSED' });
    await recordGeocoderAnswer(other.sql, 'http://geo');
    assert.deepEqual(await geocoderServerState(s.sql, 'http://geo'), { failures: 0, retryAfterUnixSeconds: null, lastError: null });
    assert.equal(await a.reserve('http://geo', 72_000, 1000), 72_001, 'the slots survive the outage records');
    if (other !== s) await other.close();
    await s.close();
  });
});
