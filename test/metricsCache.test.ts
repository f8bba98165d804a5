/**
 * GET /metrics serves the body it rendered last while the database is unchanged, and renders
 * again as soon as anything was written: by the hub's own connection (a round, a status) or by
 * another process on the same file (`edgefleet run` beside a running hub). Real SQLite files;
 * the expected values are the ones written, read back from the text.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NodeSpec } from '../shared/domain/index.js';
import { renderMetrics as renderBytes } from '../shared/prometheus/scrape.js';
import { openDb, readingsWriter, syncNodes, type Db } from '../shared/store/index.js';

/** The body as text, which the assertions read. */
const renderMetrics = async (db: Db, o: { openMetrics: boolean }) => {
  const r = await renderBytes(db, o);
  return { contentType: r.contentType, body: r.body.toString() };
};
const spec = (name: string): NodeSpec => ({ name, groups: ['lab'], vars: {}, connection: 'ssh', host: name, port: 22 });
const load1 = (body: string, node: string) => body.match(new RegExp(`^node_load1\\{instance="${node}",groups=",lab,"\\} (\\S+) (\\d+)$`, 'm'))?.slice(1);

let dir: string;
let hub: Db;
let cli: Db;
const T0 = 1_790_000_000;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-metrics-cache-'));
  hub = openDb(join(dir, 'e.db'));
  cli = openDb(join(dir, 'e.db'));
  syncNodes(hub, [spec('pi-a'), spec('pi-b')], T0);
  readingsWriter(hub).writeRound(
    ['pi-a', 'pi-b'].map((node, i) => ({ node, timeUnixSeconds: T0, load: { load1: 0.5 + i, load5: 0.25, load15: 0.125 } })),
    [],
    [],
  );
});

after(() => {
  hub?.close();
  cli?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('GET /metrics body cache', () => {
  it('a second scrape with nothing written in between gets the same bytes, for each format', async () => {
    const text = (await renderMetrics(hub, { openMetrics: false }));
    assert.deepEqual(load1(text.body, 'pi-a'), ['0.5', String(T0 * 1000)]);
    assert.equal((await renderMetrics(hub, { openMetrics: false })).body, text.body);
    const om = (await renderMetrics(hub, { openMetrics: true }));
    assert.match(om.contentType, /openmetrics/);
    assert.notEqual(om.body, text.body);
    assert.match(om.body, /# EOF\n$/);
    assert.equal((await renderMetrics(hub, { openMetrics: false })).body, text.body);
  });

  it('a round written by the same connection shows on the next scrape', async () => {
    (await renderMetrics(hub, { openMetrics: false }));
    readingsWriter(hub).writeRound([{ node: 'pi-a', timeUnixSeconds: T0 + 10, load: { load1: 2.75, load5: 1, load15: 0.5 } }], [], []);
    assert.deepEqual(load1((await renderMetrics(hub, { openMetrics: false })).body, 'pi-a'), ['2.75', String((T0 + 10) * 1000)]);
  });

  it('a write by another connection to the same file (a CLI run beside the hub) shows on the next scrape', async () => {
    const before = (await renderMetrics(hub, { openMetrics: false })).body;
    assert.deepEqual(load1(before, 'pi-b'), ['1.5', String(T0 * 1000)]);
    syncNodes(cli, [spec('pi-a'), spec('pi-b')], T0 + 20);
    readingsWriter(cli).writeRound([{ node: 'pi-b', timeUnixSeconds: T0 + 20, load: { load1: 3.5, load5: 1, load15: 0.5 } }], [], []);
    assert.deepEqual(load1((await renderMetrics(hub, { openMetrics: false })).body, 'pi-b'), ['3.5', String((T0 + 20) * 1000)]);
  });

  it('a node removed from the inventory leaves the body', async () => {
    assert.ok(load1((await renderMetrics(hub, { openMetrics: false })).body, 'pi-b'));
    syncNodes(hub, [spec('pi-a')], T0 + 30);
    const body = (await renderMetrics(hub, { openMetrics: false })).body;
    assert.equal(load1(body, 'pi-b'), undefined);
    assert.ok(load1(body, 'pi-a'));
  });
});

describe('GET /metrics series text kept between renders', () => {
  // A fresh connection to the same file has no kept text: its render is the reference.
  const iface = (name: string, rx: number) => ({ iface: name, rxBytes: rx, rxPackets: 10, rxErrors: 0, rxDrops: 0, txBytes: 500, txPackets: 5, txErrors: 0, txDrops: 0 });
  const round = (db: Db, t: number, ifaces: Record<string, ReturnType<typeof iface>[]>) =>
    readingsWriter(db).writeRound(
      Object.keys(ifaces).map((node) => ({ node, timeUnixSeconds: t, load: { load1: 1, load5: 1, load15: 1 } })),
      Object.entries(ifaces).map(([node, interfaces]) => ({ node, kind: 'network' as const, timeMs: t * 1000 + 250, sample: { interfaces } })),
      [],
    );
  const fresh = async (file: string, openMetrics: boolean) => {
    const other = openDb(file);
    try {
      return (await renderMetrics(other, { openMetrics })).body;
    } finally {
      other.close();
    }
  };
  const rx = (body: string, node: string, device: string) => body.match(new RegExp(`^node_network_receive_bytes_total\\{instance="${node}",groups="([^"]*)",device="${device}"\\} (\\S+) (\\d+)$`, 'm'))?.slice(1);

  it('new values, an interface gone, another group, a quoted name: the bytes of a fresh render', async () => {
    const file = join(dir, 'kept.db');
    const db = openDb(file);
    try {
      const odd = 'lab "b"\\2';
      syncNodes(db, [spec('pi-a'), spec(odd)], T0);
      round(db, T0, { 'pi-a': [iface('eth0', 1000), iface('wlan0', 70)], [odd]: [iface('eth0', 3000)] });
      for (const om of [false, true]) assert.equal((await renderMetrics(db, { openMetrics: om })).body, await fresh(file, om));

      // pi-a: usb0 new where eth0 was, eth0 moved, wlan0 gone; the odd one unchanged but in another group.
      syncNodes(db, [spec('pi-a'), { ...spec(odd), groups: ['lab', 'pis'] }], T0 + 10);
      round(db, T0 + 10, { 'pi-a': [iface('usb0', 5), iface('eth0', 2000)], [odd]: [iface('eth0', 3000)] });
      for (const om of [false, true]) {
        const body = (await renderMetrics(db, { openMetrics: om })).body;
        assert.equal(body, await fresh(file, om));
        if (om) continue;
        assert.deepEqual(rx(body, 'pi-a', 'eth0'), [',lab,', '2000', String((T0 + 10) * 1000 + 250)]);
        assert.equal(rx(body, 'pi-a', 'wlan0'), undefined);
        assert.deepEqual(rx(body, 'pi-a', 'usb0'), [',lab,', '5', String((T0 + 10) * 1000 + 250)]);
        assert.deepEqual(rx(body, 'lab \\\\"b\\\\"\\\\\\\\2', 'eth0'), [',lab,pis,', '3000', String((T0 + 10) * 1000 + 250)]);
      }
    } finally {
      db.close();
    }
  });
});
