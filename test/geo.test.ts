/**
 * Geolocation: the pure pieces (normalization, the Korean fallback chain, inventory vars) by
 * tables, and the use case with the real node-geocoder client against a local HTTP server that
 * speaks Nominatim's /search JSON API (test/fixtures/geo, see SOURCE.md), recording when each
 * request arrived and what it asked.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { geolocate } from '../shared/collect/geolocate.js';
import { DEFAULT_CONFIG, type Config } from '../shared/config/config.js';
import { silentLogger, type NodeSpec } from '../shared/domain/index.js';
import {
  addressKey,
  createGeocoderClient,
  fallbackQueries,
  geocoderSettings,
  locationInput,
  normalizeAddress,
  PUBLIC_MIN_INTERVAL_MS,
  resetLimiters,
  type FallbackStep,
} from '../shared/geo/index.js';
import { getGeocodeEntry, listNodes, openDb, syncNodes, type Db } from '../shared/store/index.js';
import { runCli } from './harness/cli.js';
import { postgresAvailable, startPostgres } from './harness/postgres.js';
import { freePort } from './harness/ports.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'geo');
const SEARCH = JSON.parse(readFileSync(join(FIXTURES, 'search.json'), 'utf8')) as Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Pure pieces

describe('address normalization', () => {
  const cases: [string, string, string][] = [
    ['collapses spaces, trims', '  서울특별시   강남구\t테헤란로  152 ', '서울특별시 강남구 테헤란로 152'],
    ['NFD Hangul becomes NFC', '서울특별시 강남구 테헤란로 152'.normalize('NFD'), '서울특별시 강남구 테헤란로 152'],
    ['full-width digits, brackets and spaces', '서울특별시\u3000강남구 테헤란로 １５２ （역삼동）', '서울특별시 강남구 테헤란로 152 (역삼동)'],
    ['non-breaking and zero-width spaces', '서울특별시\u00a0강남구\u200b 테헤란로 152', '서울특별시 강남구 테헤란로 152'],
    ['commas get one space; stray ones go', ',Technikerstraße 21a ,6020 Innsbruck,, Austria,', 'Technikerstraße 21a, 6020 Innsbruck, Austria'],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => assert.equal(normalizeAddress(input), expected));
  }
  it('keys ignore Latin case, so one address is looked up once', () => {
    assert.equal(addressKey('Technikerstraße 21A, 6020 INNSBRUCK'), addressKey('technikerstraße 21a,6020 Innsbruck'));
    assert.equal(addressKey('서울특별시 강남구 테헤란로 152'.normalize('NFD')), addressKey(' 서울특별시 강남구  테헤란로 152'));
  });
});

describe('fallback chain (pure)', () => {
  const cases: { name: string; address: string; expected: [string, FallbackStep['precision']][] }[] = [
    {
      name: 'road address with reference 동 and building name',
      address: '서울특별시 강남구 테헤란로 152 (역삼동, 강남파이낸스센터)',
      expected: [
        ['서울특별시 강남구 테헤란로 152 (역삼동, 강남파이낸스센터)', 'address'],
        ['서울특별시 강남구 테헤란로 152', 'address'],
        ['서울특별시 강남구 테헤란로', 'street'],
        ['서울특별시 강남구 역삼동', 'town'],
        ['서울특별시 강남구', 'district'],
        ['서울특별시', 'region'],
      ],
    },
    {
      name: 'road address in a city with districts, with floor and unit',
      address: '경기도 성남시 분당구 판교역로 235 에이치스퀘어 N동 7층',
      expected: [
        ['경기도 성남시 분당구 판교역로 235 에이치스퀘어 N동 7층', 'address'],
        ['경기도 성남시 분당구 판교역로 235', 'address'],
        ['경기도 성남시 분당구 판교역로', 'street'],
        ['경기도 성남시 분당구', 'district'],
        ['경기도 성남시', 'district'],
        ['경기도', 'region'],
      ],
    },
    {
      name: '길 road with a 번길 and a sub-number; short region name',
      address: '서울 마포구 와우산로29길 48-3, 2층',
      expected: [
        ['서울 마포구 와우산로29길 48-3, 2층', 'address'],
        ['서울 마포구 와우산로29길 48-3', 'address'],
        ['서울 마포구 와우산로29길', 'street'],
        ['서울 마포구', 'district'],
        ['서울', 'region'],
      ],
    },
    {
      name: 'lot address with 읍, 리, 산 and 번지',
      address: '경기도 화성시 봉담읍 와우리 산 35-1번지',
      expected: [
        ['경기도 화성시 봉담읍 와우리 산 35-1번지', 'address'],
        ['경기도 화성시 봉담읍 와우리 산35-1', 'address'],
        ['경기도 화성시 봉담읍 와우리', 'town'],
        ['경기도 화성시 봉담읍', 'town'],
        ['경기도 화성시', 'district'],
        ['경기도', 'region'],
      ],
    },
    {
      name: 'lot address in Seoul',
      address: '서울특별시 강남구 역삼동 737',
      expected: [
        ['서울특별시 강남구 역삼동 737', 'address'],
        ['서울특별시 강남구 역삼동', 'town'],
        ['서울특별시 강남구', 'district'],
        ['서울특별시', 'region'],
      ],
    },
    {
      name: 'special self-governing city without 시/군/구',
      address: '세종특별자치시 한누리대로 2130',
      expected: [
        ['세종특별자치시 한누리대로 2130', 'address'],
        ['세종특별자치시 한누리대로', 'street'],
        ['세종특별자치시', 'region'],
      ],
    },
    {
      name: 'postcode and country around the address',
      address: '(63309) 제주특별자치도 제주시 첨단로 242 대한민국',
      expected: [
        ['(63309) 제주특별자치도 제주시 첨단로 242 대한민국', 'address'],
        ['제주특별자치도 제주시 첨단로 242', 'address'],
        ['제주특별자치도 제주시 첨단로', 'street'],
        ['제주특별자치도 제주시', 'district'],
        ['제주특별자치도', 'region'],
      ],
    },
    {
      name: 'district only',
      address: '부산광역시 해운대구',
      expected: [
        ['부산광역시 해운대구', 'district'],
        ['부산광역시', 'region'],
      ],
    },
    {
      name: 'a non-Korean address drops leading parts',
      address: 'Technikerstraße 21a, 6020 Innsbruck, Austria',
      expected: [
        ['Technikerstraße 21a, 6020 Innsbruck, Austria', 'address'],
        ['Technikerstraße, 6020 Innsbruck, Austria', 'street'],
        ['6020 Innsbruck, Austria', 'town'],
        ['Austria', 'region'],
      ],
    },
    { name: 'one word', address: 'Daejeon', expected: [['Daejeon', 'address']] },
    { name: 'empty', address: '  ,  ', expected: [] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(fallbackQueries(c.address).map((s) => [s.query, s.precision]), c.expected));
  }
});

describe('location vars of a host (pure)', () => {
  const cases: [string, Record<string, unknown>, ReturnType<typeof locationInput>][] = [
    ['coordinates win over an address', { latitude: 37.5, longitude: '127.03', address: '서울특별시 강남구' }, { kind: 'coordinates', latitude: 37.5, longitude: 127.03, address: '서울특별시 강남구' }],
    ['an address', { address: ' 서울특별시  강남구 ' }, { kind: 'address', address: '서울특별시 강남구', key: '서울특별시 강남구' }],
    ['nothing', { ansible_host: 'x' }, { kind: 'none' }],
    ['a latitude out of range falls back to the address', { latitude: 137.5, longitude: 127, address: 'Daejeon' }, { kind: 'address', address: 'Daejeon', key: 'daejeon', problem: 'latitude 137.5 is not a number between -90 and 90' }],
    ['half a coordinate', { latitude: '37.5' }, { kind: 'none', problem: 'latitude without longitude' }],
    ['a coordinate that is not a number', { latitude: 'north', longitude: '127' }, { kind: 'none', problem: 'latitude "north" is not a number between -90 and 90' }],
  ];
  for (const [name, vars, expected] of cases) it(name, () => assert.deepEqual(locationInput(vars), expected));
});

describe('geocoder settings', () => {
  const base = DEFAULT_CONFIG.geocoder;
  it('enforces one request per second on the public Nominatim, whatever is configured', () => {
    const s = geocoderSettings({ ...base, minIntervalMs: 100 });
    assert.equal(s.minIntervalMs, PUBLIC_MIN_INTERVAL_MS);
    assert.match(s.adjusted[0]!, /raised from 100 to 1000/);
    assert.equal(geocoderSettings({ ...base, url: 'http://127.0.0.1:8080/', minIntervalMs: 100 }).minIntervalMs, 100);
  });
  it('always identifies edgefleet, and rejects URLs it cannot use safely', () => {
    assert.match(geocoderSettings({ ...base, userAgent: '' }).userAgent, /^edgefleet\//);
    assert.throws(() => geocoderSettings({ ...base, url: 'file:///etc/passwd' }), /http or https/);
    assert.throws(() => geocoderSettings({ ...base, url: 'https://me:secret@nominatim.example' }), (e: Error) => /credentials/.test(e.message) && !e.message.includes('secret'));
    assert.throws(() => geocoderSettings({ ...base, email: 'not an address' }), /geocoder.email/);
  });
});

// ---------------------------------------------------------------------------------------------
// A Nominatim-speaking server

interface Received {
  atMs: number;
  path: string;
  params: URLSearchParams;
  userAgent: string | undefined;
}

type Mode = 'fixtures' | 'not-json' | 'nan' | 'out-of-range' | 'http-500' | 'hang';

class FakeNominatim {
  received: Received[] = [];
  mode: Mode = 'fixtures';
  private server: Server;
  url = '';
  constructor() {
    this.server = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      this.received.push({ atMs: performance.timeOrigin + performance.now(), path: u.pathname, params: u.searchParams, userAgent: req.headers['user-agent'] });
      if (u.pathname !== '/search') return void res.writeHead(404).end();
      const send = (status: number, type: string, body: string) => res.writeHead(status, { 'content-type': type }).end(body);
      switch (this.mode) {
        case 'hang':
          return; // never answers
        case 'not-json':
          return send(200, 'text/html', readFileSync(join(FIXTURES, 'bad', 'not-json.html'), 'utf8'));
        case 'nan':
          return send(200, 'application/json', readFileSync(join(FIXTURES, 'bad', 'nan-coordinates.json'), 'utf8'));
        case 'out-of-range':
          return send(200, 'application/json', readFileSync(join(FIXTURES, 'bad', 'out-of-range.json'), 'utf8'));
        case 'http-500':
          return send(500, 'application/json', readFileSync(join(FIXTURES, 'bad', 'server-error.json'), 'utf8'));
        default:
          return send(200, 'application/json; charset=utf-8', JSON.stringify(SEARCH[u.searchParams.get('q') ?? ''] ?? []));
      }
    });
  }
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
  queries(): string[] {
    return this.received.map((r) => r.params.get('q') ?? '');
  }
}

const spec = (name: string, vars: Record<string, unknown>): NodeSpec => ({ name, groups: ['lab'], vars, connection: 'ssh', host: name, port: 22 });

const config = (url: string, extra: Partial<Config['geocoder']> = {}): Pick<Config, 'geocoder'> => ({
  geocoder: { ...DEFAULT_CONFIG.geocoder, url, email: 'ops@example.org', userAgent: 'edgefleet-test/1.0 (lab map)', minIntervalMs: 50, timeoutSeconds: 2, retryBaseSeconds: 300, retryMaxSeconds: 3600, ...extra },
});

function fleet(nodes: NodeSpec[]): Db {
  const db = openDb(':memory:');
  syncNodes(db, nodes, 1000);
  return db;
}

const node = (db: Db, name: string) => listNodes(db).find((n) => n.name === name)!;

const PANGYO = '경기도 성남시 분당구 판교역로 235';

describe('geolocate against a Nominatim-speaking server', () => {
  let nominatim: FakeNominatim;
  before(async () => {
    nominatim = await new FakeNominatim().start();
  });
  after(() => nominatim.stop());
  beforeEach(() => {
    nominatim.received = [];
    nominatim.mode = 'fixtures';
  });

  it('geocodes an address with the real node-geocoder client: location, place, precision, cache row', async () => {
    const db = fleet([spec('gw-01', { address: PANGYO })]);
    const s = await geolocate({ db, nodes: [spec('gw-01', { address: PANGYO })], config: config(nominatim.url), log: silentLogger });
    assert.equal(nominatim.received.length, 1);
    const r = nominatim.received[0]!;
    assert.equal(r.path, '/search');
    assert.equal(r.params.get('q'), PANGYO);
    assert.equal(r.params.get('format'), 'json');
    assert.equal(r.params.get('limit'), '1');
    assert.equal(r.params.get('accept-language'), 'ko,en');
    assert.equal(r.params.get('email'), 'ops@example.org');
    assert.equal(r.params.get('osmServer'), null, 'the server URL is not sent as a parameter');
    assert.equal(r.userAgent, 'edgefleet-test/1.0 (lab map)');

    const n = node(db, 'gw-01');
    assert.deepEqual([n.latitude, n.longitude, n.locationSource, n.locationPrecision, n.locationError], [37.4002118, 127.1086013, 'geocoded', 'address', null]);
    assert.equal(s.perNode[0]!.displayName, '에이치스퀘어 N동, 235, 판교역로, 삼평동, 분당구, 성남시, 경기도, 13494, 대한민국');
    assert.deepEqual([s.lookups, s.requests, s.bySource.geocoded], [1, 1, 1]);
    const e = (await getGeocodeEntry(db, addressKey(PANGYO)))!;
    assert.deepEqual(
      [e.status, e.query, e.latitude, e.longitude, e.precision, e.provider, e.server, e.attempts, typeof e.lookedUpUnixSeconds],
      ['ok', PANGYO, 37.4002118, 127.1086013, 'address', 'openstreetmap', nominatim.url, 0, 'number'],
    );
  });

  it('a cached address makes no request: the next run, and another node with the same address written differently', async () => {
    const nodes = [spec('gw-01', { address: PANGYO })];
    const db = fleet(nodes);
    await geolocate({ db, nodes, config: config(nominatim.url), log: silentLogger });
    assert.equal(nominatim.received.length, 1);

    const more = [...nodes, spec('gw-02', { address: `  ${PANGYO.normalize('NFD').replace(/ /g, '  ')} ` })];
    syncNodes(db, more, 2000);
    const s = await geolocate({ db, nodes: more, config: config(nominatim.url), log: silentLogger });
    assert.equal(nominatim.received.length, 1, 'no request for a cached address');
    assert.equal(s.requests, 0);
    assert.equal(node(db, 'gw-01').locationSource, 'geocoded', 'a node located earlier keeps its source');
    const twin = node(db, 'gw-02');
    assert.deepEqual([twin.latitude, twin.longitude, twin.locationSource, twin.locationPrecision], [37.4002118, 127.1086013, 'cached', 'address']);
  });

  it('--refresh looks a cached address up again', async () => {
    const nodes = [spec('gw-01', { address: PANGYO })];
    const db = fleet(nodes);
    await geolocate({ db, nodes, config: config(nominatim.url), log: silentLogger });
    const s = await geolocate({ db, nodes, config: config(nominatim.url), log: silentLogger, refresh: true });
    assert.deepEqual(nominatim.queries(), [PANGYO, PANGYO]);
    assert.equal(s.requests, 1);
    assert.equal(node(db, 'gw-01').locationSource, 'geocoded');
  });

  it('falls back step by step and records the precision that matched', async () => {
    const cases = [
      {
        address: '서울특별시 강남구 테헤란로 152 (역삼동, 강남파이낸스센터)',
        queries: ['서울특별시 강남구 테헤란로 152 (역삼동, 강남파이낸스센터)', '서울특별시 강남구 테헤란로 152', '서울특별시 강남구 테헤란로'],
        location: [37.5006744, 127.0364242, 'street'],
        place: '테헤란로, 역삼동, 강남구, 서울특별시, 06236, 대한민국',
      },
      {
        address: '경기도 화성시 봉담읍 와우리 산 35-1번지',
        queries: ['경기도 화성시 봉담읍 와우리 산 35-1번지', '경기도 화성시 봉담읍 와우리 산35-1', '경기도 화성시 봉담읍 와우리', '경기도 화성시 봉담읍'],
        location: [37.2190316, 126.9488335, 'town'],
        place: '봉담읍, 화성시, 경기도, 대한민국',
      },
      {
        address: '제주특별자치도 제주시 첨단로 242',
        queries: ['제주특별자치도 제주시 첨단로 242', '제주특별자치도 제주시 첨단로', '제주특별자치도 제주시'],
        location: [33.4996213, 126.5311884, 'district'],
        place: '제주시, 제주특별자치도, 63122, 대한민국',
      },
    ];
    for (const c of cases) {
      nominatim.received = [];
      const nodes = [spec('n', { address: c.address })];
      const db = fleet(nodes);
      const s = await geolocate({ db, nodes, config: config(nominatim.url), log: silentLogger });
      assert.deepEqual(nominatim.queries(), c.queries, c.address);
      const n = node(db, 'n');
      assert.deepEqual([n.latitude, n.longitude, n.locationPrecision], c.location, c.address);
      assert.equal(s.perNode[0]!.displayName, c.place);
      const e = (await getGeocodeEntry(db, addressKey(c.address)))!;
      assert.equal(e.query, c.queries.at(-1));
      assert.equal(e.precision, c.location[2]);
    }
  });

  it('an address no query matches is failed with the reason, and retried later', async () => {
    const nodes = [spec('n', { address: '울릉도 어딘가 없는길 999' })];
    const db = fleet(nodes);
    await geolocate({ db, nodes, config: config(nominatim.url), log: silentLogger, nowUnixSeconds: () => 10_000 });
    const n = node(db, 'n');
    assert.equal(n.locationSource, 'failed');
    assert.match(n.locationError!, /no match for any of \d+ queries/);
    assert.equal((await getGeocodeEntry(db, addressKey('울릉도 어딘가 없는길 999')))!.nextRetryUnixSeconds, 10_000 + 300);
  });

  it('URL-encodes the address: & = # and quotes stay inside q', async () => {
    const address = 'Lab & Co, a=b #3 "north", Daejeon';
    const nodes = [spec('n', { address })];
    const db = fleet(nodes);
    await geolocate({ db, nodes, config: config(nominatim.url), log: silentLogger });
    const first = nominatim.received[0]!;
    assert.equal(first.params.get('q'), address);
    assert.deepEqual([...first.params.keys()].sort(), ['accept-language', 'addressdetails', 'email', 'format', 'limit', 'q']);
  });

  it('inventory coordinates win over the address and make no request', async () => {
    const nodes = [spec('pi-01', { address: PANGYO, latitude: '36.3504', longitude: 127.3845 })];
    const db = fleet(nodes);
    const s = await geolocate({ db, nodes, config: config(nominatim.url), log: silentLogger });
    assert.equal(nominatim.received.length, 0);
    const n = node(db, 'pi-01');
    assert.deepEqual([n.latitude, n.longitude, n.locationSource, n.address], [36.3504, 127.3845, 'inventory', PANGYO]);
    assert.equal(s.bySource.inventory, 1);
  });

  for (const [mode, pattern] of [
    ['not-json', /not JSON: 502 Bad Gateway/],
    ['nan', /lat is not a number: "NaN"/],
    ['out-of-range', /lat 137.5006744 is out of range/],
  ] as const) {
    it(`rejects a bad answer (${mode}): recorded as failed, never stored`, async () => {
      nominatim.mode = mode;
      const nodes = [spec('n', { address: PANGYO })];
      const db = fleet(nodes);
      db.prepare("UPDATE nodes SET latitude = 35.1, longitude = 129.0 WHERE name = 'n'").run();
      await geolocate({ db, nodes, config: config(nominatim.url), log: silentLogger });
      assert.equal(nominatim.received.length, 1, 'a rejected answer ends the chain');
      const n = node(db, 'n');
      assert.equal(n.locationSource, 'failed');
      assert.match(n.locationError!, pattern);
      assert.deepEqual([n.latitude, n.longitude], [35.1, 129.0], 'the last known location stays');
      const e = (await getGeocodeEntry(db, addressKey(PANGYO)))!;
      assert.deepEqual([e.status, e.latitude, e.longitude, e.displayName], ['failed', null, null, null]);
    });
  }

  it('an HTTP 500 and a server that does not answer in time leave the node pending', async () => {
    for (const [mode, pattern] of [
      ['http-500', /HTTP 500/],
      ['hang', /timed out after 300 ms/],
    ] as const) {
      nominatim.mode = mode;
      const nodes = [spec('n', { address: PANGYO })];
      const db = fleet(nodes);
      const t0 = performance.now();
      await geolocate({ db, nodes, config: config(nominatim.url, { timeoutSeconds: 0.3 }), log: silentLogger, refresh: true });
      assert.ok(performance.now() - t0 < 3000, 'bounded by the timeout');
      const n = node(db, 'n');
      assert.equal(n.locationSource, 'pending', mode);
      assert.match(n.locationError!, pattern);
    }
  });

  it('node-geocoder keeps its server on the prototype: two clients still reach their own servers', async () => {
    const other = await new FakeNominatim().start();
    try {
      const a = createGeocoderClient(geocoderSettings(config(nominatim.url).geocoder));
      const b = createGeocoderClient(geocoderSettings(config(other.url).geocoder));
      await Promise.all([a.search(PANGYO), b.search('서울특별시 강남구 테헤란로'), a.search('경기도 화성시 봉담읍')]);
      assert.deepEqual(nominatim.queries().sort(), ['경기도 화성시 봉담읍', PANGYO].sort());
      assert.deepEqual(other.queries(), ['서울특별시 강남구 테헤란로']);
    } finally {
      await other.stop();
    }
  });

  it('looks up at most maxLookups addresses per run (collectAll), the rest pending; 0 means no network', async () => {
    const nodes = [spec('a', { address: PANGYO }), spec('b', { address: '경기도 화성시 봉담읍' }), spec('c', { address: '제주특별자치도 제주시' })];
    const db = fleet(nodes);
    const offline = await geolocate({ db, nodes, config: config(nominatim.url), log: silentLogger, maxLookups: 0 });
    assert.equal(nominatim.received.length, 0);
    assert.deepEqual([offline.bySource.pending, offline.deferred], [3, 3]);
    const s = await geolocate({ db, nodes, config: config(nominatim.url), log: silentLogger, maxLookups: 1 });
    assert.deepEqual([s.lookups, s.deferred, s.bySource.geocoded, s.bySource.pending], [1, 2, 1, 2]);
    assert.equal(nominatim.received.length, 1);
  });
});

describe('rate limit', () => {
  it('spaces requests by minIntervalMs as the server sees them, also across concurrent runs', async () => {
    resetLimiters();
    const nominatim = await new FakeNominatim().start();
    try {
      const interval = 250;
      const cfg = config(nominatim.url, { minIntervalMs: interval });
      // Three addresses whose chains take 3 + 4 + 3 requests, in two runs at once over one database.
      const nodes = [
        spec('a', { address: '서울특별시 강남구 테헤란로 152 (역삼동, 강남파이낸스센터)' }),
        spec('b', { address: '경기도 화성시 봉담읍 와우리 산 35-1번지' }),
        spec('c', { address: '제주특별자치도 제주시 첨단로 242' }),
      ];
      const db = fleet(nodes);
      await Promise.all([
        geolocate({ db, nodes: nodes.slice(0, 2), config: cfg, log: silentLogger }),
        geolocate({ db, nodes: nodes.slice(2), config: cfg, log: silentLogger }),
      ]);
      const times = nominatim.received.map((r) => r.atMs);
      assert.equal(times.length, 10);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      assert.ok(
        gaps.every((g) => g >= interval),
        `gaps between requests (ms): ${gaps.map((g) => g.toFixed(1)).join(', ')}`,
      );
    } finally {
      await nominatim.stop();
    }
  });

  it('another process sharing the database waits for the slot it recorded', async () => {
    resetLimiters();
    const nominatim = await new FakeNominatim().start();
    try {
      const nodes = [spec('a', { address: PANGYO })];
      const db = fleet(nodes);
      // As if another process had just made a request to this server.
      const reservedUntil = Date.now() + 400;
      db.prepare('INSERT INTO geocoder_servers (server, next_request_unix_ms) VALUES (?, ?)').run(nominatim.url, reservedUntil);
      await geolocate({ db, nodes, config: config(nominatim.url), log: silentLogger });
      assert.ok(nominatim.received[0]!.atMs >= reservedUntil, 'the request waited for the recorded slot');
    } finally {
      await nominatim.stop();
    }
  });
});

describe('offline tolerance', () => {
  it('server down: the node keeps its last location, is pending with the reason, and is retried with backoff', async () => {
    resetLimiters();
    const nominatim = await new FakeNominatim().start();
    const down = `http://127.0.0.1:${await freePort()}`;
    try {
      // Located once at its old address.
      const old = [spec('gw', { address: PANGYO })];
      const db = fleet(old);
      await geolocate({ db, nodes: old, config: config(nominatim.url), log: silentLogger });
      assert.equal(node(db, 'gw').latitude, 37.4002118);

      // The lab moves; the geocoder is unreachable.
      const moved = [spec('gw', { address: '서울특별시 강남구 테헤란로 152 (역삼동, 강남파이낸스센터)' }), spec('pi', { address: '제주특별자치도 제주시 첨단로 242' })];
      syncNodes(db, moved, 2000);
      let clock = 100_000;
      const now = () => clock;
      const s1 = await geolocate({ db, nodes: moved, config: config(down), log: silentLogger, nowUnixSeconds: now });
      const gw = node(db, 'gw');
      assert.deepEqual([gw.latitude, gw.longitude], [37.4002118, 127.1086013], 'last known location kept');
      assert.equal(gw.locationSource, 'pending');
      assert.match(gw.locationError!, /ECONNREFUSED/);
      assert.equal(s1.lookups, 1, 'the server is down: the other address waits instead of costing another failure');
      assert.equal(node(db, 'pi').locationSource, 'pending');
      const key = addressKey(moved[0]!.vars.address as string);
      let e = (await getGeocodeEntry(db, key))!;
      assert.deepEqual([e.status, e.attempts, e.nextRetryUnixSeconds], ['pending', 1, clock + 300]);

      // Before the retry time: nothing is asked, even of a server that is up.
      clock += 200;
      await geolocate({ db, nodes: moved.slice(0, 1), config: config(nominatim.url), log: silentLogger, nowUnixSeconds: now });
      assert.equal(nominatim.received.length, 1);

      // Still down at the retry time: the backoff doubles.
      clock = 100_000 + 301;
      await geolocate({ db, nodes: moved.slice(0, 1), config: config(down), log: silentLogger, nowUnixSeconds: now });
      e = (await getGeocodeEntry(db, key))!;
      assert.deepEqual([e.status, e.attempts, e.nextRetryUnixSeconds], ['pending', 2, clock + 600]);

      // Back up after the backoff: located.
      clock += 601;
      await geolocate({ db, nodes: moved, config: config(nominatim.url), log: silentLogger, nowUnixSeconds: now });
      const back = node(db, 'gw');
      assert.deepEqual([back.latitude, back.longitude, back.locationSource, back.locationPrecision, back.locationError], [37.5006744, 127.0364242, 'geocoded', 'street', null]);
      assert.equal(node(db, 'pi').locationSource, 'geocoded');
      assert.equal((await getGeocodeEntry(db, key))!.attempts, 0);
    } finally {
      await nominatim.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The Fleet overview's Geomap and the CLI

/** The Fleet overview dashboard's geomap SQL when the dashboard exists, with Grafana's `${var:sqlstring}` for "All". */
function geomapQuery(db: Db): string {
  const file = join(import.meta.dirname, '..', 'grafana', 'dashboards', 'fleet-overview.json');
  const fallback = 'SELECT name, status, latitude, longitude FROM nodes WHERE latitude IS NOT NULL AND longitude IS NOT NULL AND removed_unix_seconds IS NULL ORDER BY name';
  if (!existsSync(file)) return fallback;
  type Panel = { type?: string; panels?: Panel[]; targets?: { rawQueryText?: string; queryText?: string }[] };
  const dash = JSON.parse(readFileSync(file, 'utf8')) as { panels?: Panel[]; templating?: { list?: { name: string; query?: string }[] } };
  const all = (ps: Panel[] = []): Panel[] => ps.flatMap((p) => [p, ...all(p.panels)]);
  const geomap = all(dash.panels).find((p) => p.type === 'geomap');
  const target = geomap?.targets?.[0];
  const sql = target?.rawQueryText ?? target?.queryText;
  if (!sql) return fallback;
  // "All" for every variable: its options are what its own query returns (variables in order).
  const values = new Map<string, string>();
  const expand = (text: string) => text.replace(/\$\{(\w+):sqlstring\}/g, (_m, name: string) => values.get(name) ?? "''");
  for (const v of dash.templating?.list ?? []) {
    if (!v.query) continue;
    const rows = db.prepare(expand(v.query)).raw().all() as unknown[][];
    values.set(v.name, rows.map((r) => `'${String(r[0]).replace(/'/g, "''")}'`).join(',') || "''");
  }
  return expand(sql);
}

describe('Fleet overview Geomap', () => {
  it('returns every located node with its status: inventory, geocoded and cached alike, not the unlocated', async () => {
    const nominatim = await new FakeNominatim().start();
    try {
      const nodes = [
        spec('gw-01', { address: PANGYO }),
        spec('gw-02', { address: PANGYO }),
        spec('pi-01', { latitude: 36.3504, longitude: 127.3845 }),
        spec('pi-02', {}),
        spec('pi-03', { address: '울릉도 어딘가 없는길 999' }),
      ];
      const db = fleet(nodes);
      // gw-01 first; gw-02 (same address) joins later and is served from the cache.
      await geolocate({ db, nodes: nodes.filter((n) => n.name !== 'gw-02'), config: config(nominatim.url), log: silentLogger });
      await geolocate({ db, nodes, config: config(nominatim.url), log: silentLogger });
      db.prepare("UPDATE nodes SET status = 'up' WHERE name IN ('gw-01', 'pi-01')").run();
      db.prepare("UPDATE nodes SET status = 'unreachable' WHERE name = 'gw-02'").run();
      const rows = db.prepare(geomapQuery(db)).all() as { name: string; status: string; latitude: number; longitude: number }[];
      assert.deepEqual(
        rows.map((r) => [r.name, r.status, r.latitude, r.longitude]),
        [
          ['gw-01', 'up', 37.4002118, 127.1086013],
          ['gw-02', 'unreachable', 37.4002118, 127.1086013],
          ['pi-01', 'up', 36.3504, 127.3845],
        ],
      );
      assert.deepEqual(
        listNodes(db).map((n) => [n.name, n.locationSource]),
        [
          ['gw-01', 'geocoded'],
          ['gw-02', 'cached'],
          ['pi-01', 'inventory'],
          ['pi-02', null],
          ['pi-03', 'failed'],
        ],
      );
    } finally {
      await nominatim.stop();
    }
  });
});

describe('CLI', () => {
  let dir: string;
  let nominatim: FakeNominatim;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-geo-'));
    nominatim = await new FakeNominatim().start();
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await nominatim.stop();
  });

  const cli = (args: string[]) => runCli(args, { cwd: dir, env: { EDGEFLEET_GEOCODER_URL: nominatim.url, EDGEFLEET_GEOCODER_MIN_INTERVAL_MS: '50' } });

  it('`geolocate` locates, `nodes` shows LOCATION and SOURCE, `geolocate --refresh` asks again', async () => {
    const inventory = join(dir, 'hosts.ini');
    writeFileSync(
      inventory,
      `[lab]\ngw-01 ansible_host=192.0.2.1 address="${PANGYO}"\npi-01 ansible_host=192.0.2.2 latitude=36.3504 longitude=127.3845\npi-02 ansible_host=192.0.2.3\n`,
    );
    const args = ['-i', inventory, '--db', join(dir, 'fleet.db')];

    const before = await cli(['nodes', ...args]);
    assert.equal(before.code, 0, before.stderr);
    assert.match(before.stdout.split('\n')[0]!, /LOCATION\s+SOURCE\s+LAST ERROR$/);
    assert.match(before.stdout, /gw-01 .* pending/);
    assert.equal(nominatim.received.length, 0, '`nodes` never goes to the network');

    const run = await cli(['geolocate', ...args]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /gw-01\s+경기도 성남시 분당구 판교역로 235\s+37\.40021,127\.10860\s+geocoded\s+address\s+에이치스퀘어 N동/);
    assert.match(run.stdout, /2\/3 nodes located \(inventory 1, geocoded 1, cached 0, pending 0, failed 0\); 1 addresses looked up in 1 requests/);

    const listed = await cli(['nodes', '--json', ...args]);
    assert.equal(listed.code, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as { name: string; latitude: number | null; locationSource: string | null }[];
    assert.deepEqual(
      rows.map((r) => [r.name, r.latitude, r.locationSource]),
      [
        ['gw-01', 37.4002118, 'geocoded'],
        ['pi-01', 36.3504, 'inventory'],
        ['pi-02', null, null],
      ],
    );
    const table = await cli(['nodes', ...args]);
    assert.match(table.stdout, /gw-01 .*37\.40021,127\.10860\s+geocoded/);
    assert.match(table.stdout, /pi-01 .*36\.35040,127\.38450\s+inventory/);

    const again = await cli(['geolocate', '--json', ...args]);
    assert.equal((JSON.parse(again.stdout) as { requests: number }).requests, 0, 'cached');
    const refreshed = await cli(['geolocate', '--refresh', '--json', ...args]);
    assert.equal(refreshed.code, 0, refreshed.stderr);
    assert.equal((JSON.parse(refreshed.stdout) as { requests: number }).requests, 1);
    assert.equal(nominatim.received.length, 2);
  });
});

describe('on PostgreSQL: two processes, one store', { skip: postgresAvailable() ? false : 'no PostgreSQL 15 here' }, () => {
  it('two `edgefleet geolocate` at once space their requests by the slots in the store, and locate every node there', async () => {
    const pg = await startPostgres();
    const dir = mkdtempSync(join(tmpdir(), 'edgefleet-geo-pg-'));
    const nominatim = await new FakeNominatim().start();
    try {
      const interval = 250;
      // Chains of 3 + 4 + 3 requests (the rate limit case above): ten requests for one process.
      const inventory = join(dir, 'hosts.ini');
      writeFileSync(
        inventory,
        `[lab]\na ansible_host=192.0.2.1 address="서울특별시 강남구 테헤란로 152 (역삼동, 강남파이낸스센터)"\nb ansible_host=192.0.2.2 address="경기도 화성시 봉담읍 와우리 산 35-1번지"\nc ansible_host=192.0.2.3 address="제주특별자치도 제주시 첨단로 242"\n`,
      );
      const env = { EDGEFLEET_DB: pg.url, EDGEFLEET_INVENTORY: inventory, EDGEFLEET_GEOCODER_URL: nominatim.url, EDGEFLEET_GEOCODER_MIN_INTERVAL_MS: String(interval) };
      const cli = (args: string[]) => runCli(args, { cwd: dir, env, timeoutMs: 60_000 });
      // The schema first, so the two do not race to create it.
      assert.equal((await cli(['nodes'])).code, 0);
      const [one, two] = await Promise.all([cli(['geolocate', '--json']), cli(['geolocate', '--json'])]);
      assert.equal(one.code, 0, one.stderr);
      assert.equal(two.code, 0, two.stderr);
      // Each process has its own limiter: only the store's slots space the two.
      const times = nominatim.received.map((r) => r.atMs).sort((x, y) => x - y);
      assert.ok(times.length >= 10, `${times.length} requests`);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      assert.ok(gaps.every((g) => g >= interval - 1), `gaps between requests (ms): ${gaps.map((g) => g.toFixed(1)).join(', ')}`);
      const listed = await cli(['nodes', '--json']);
      const rows = JSON.parse(listed.stdout) as { name: string; latitude: number | null; locationSource: string | null }[];
      assert.deepEqual(rows.map((r) => [r.name, r.latitude !== null, r.locationSource === 'geocoded' || r.locationSource === 'cached']), [['a', true, true], ['b', true, true], ['c', true, true]]);
      assert.equal(pg.psql("SELECT count(*) FROM geocode_cache WHERE status = 'ok'"), '3');
    } finally {
      await nominatim.stop();
      rmSync(dir, { recursive: true, force: true });
      await pg.close();
    }
  });
});

describe('collectAll', () => {
  it('geolocates after the round, at most perRoundLimit addresses, and a down geocoder never fails the collection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefleet-geo-collect-'));
    const nominatim = await new FakeNominatim().start();
    const saved = { ...process.env };
    try {
      const inventory = join(dir, 'hosts.ini');
      writeFileSync(inventory, `[hub]\nhub-a ansible_connection=local address="${PANGYO}"\nhub-b ansible_connection=local address="경기도 화성시 봉담읍"\n`);
      for (const k of Object.keys(process.env)) if (k.startsWith('EDGEFLEET_')) delete process.env[k];
      Object.assign(process.env, {
        EDGEFLEET_INVENTORY: inventory,
        EDGEFLEET_DB: join(dir, 'fleet.db'),
        EDGEFLEET_LOG_LEVEL: 'silent',
        EDGEFLEET_GEOCODER_URL: `http://127.0.0.1:${await freePort()}`,
        EDGEFLEET_GEOCODER_MIN_INTERVAL_MS: '50',
        EDGEFLEET_GEOCODER_PER_ROUND_LIMIT: '1',
      });
      const { handler } = await import('../functions/collectAll.js');
      const { lambdaContext } = await import('../cli/lambdaContext.js');
      type Summary = { ok: number; nodes: number; geolocation?: { lookups: number; deferred: number; bySource: Record<string, number> } };
      const down = (await handler({}, lambdaContext('collectAll') as never)) as Summary;
      assert.deepEqual([down.nodes, down.ok], [2, 2], 'the collection went on');
      assert.deepEqual([down.geolocation?.lookups, down.geolocation?.bySource.pending], [1, 2]);

      // The geocoder is back: the address never tried is looked up; the one that failed waits for its retry time.
      process.env.EDGEFLEET_GEOCODER_URL = nominatim.url;
      const up = (await handler({}, lambdaContext('collectAll') as never)) as Summary;
      assert.equal(up.ok, 2);
      assert.deepEqual([up.geolocation?.lookups, up.geolocation?.deferred, up.geolocation?.bySource.geocoded, up.geolocation?.bySource.pending], [1, 0, 1, 1]);
      assert.deepEqual(nominatim.queries(), ['경기도 화성시 봉담읍'], 'one address per round');
    } finally {
      const { closeResources } = await import('../shared/handler/resources.js');
      await closeResources();
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
      await nominatim.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
