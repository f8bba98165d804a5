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
import { renderMetrics } from '../shared/prometheus/scrape.js';
import { openDb, readingsWriter, syncNodes, type Db } from '../shared/store/index.js';

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
  it('a second scrape with nothing written in between gets the same bytes, for each format', () => {
    const text = renderMetrics(hub, { openMetrics: false });
    assert.deepEqual(load1(text.body, 'pi-a'), ['0.5', String(T0 * 1000)]);
    assert.equal(renderMetrics(hub, { openMetrics: false }).body, text.body);
    const om = renderMetrics(hub, { openMetrics: true });
    assert.match(om.contentType, /openmetrics/);
    assert.notEqual(om.body, text.body);
    assert.match(om.body, /# EOF\n$/);
    assert.equal(renderMetrics(hub, { openMetrics: false }).body, text.body);
  });

  it('a round written by the same connection shows on the next scrape', () => {
    renderMetrics(hub, { openMetrics: false });
    readingsWriter(hub).writeRound([{ node: 'pi-a', timeUnixSeconds: T0 + 10, load: { load1: 2.75, load5: 1, load15: 0.5 } }], [], []);
    assert.deepEqual(load1(renderMetrics(hub, { openMetrics: false }).body, 'pi-a'), ['2.75', String((T0 + 10) * 1000)]);
  });

  it('a write by another connection to the same file (a CLI run beside the hub) shows on the next scrape', () => {
    const before = renderMetrics(hub, { openMetrics: false }).body;
    assert.deepEqual(load1(before, 'pi-b'), ['1.5', String(T0 * 1000)]);
    syncNodes(cli, [spec('pi-a'), spec('pi-b')], T0 + 20);
    readingsWriter(cli).writeRound([{ node: 'pi-b', timeUnixSeconds: T0 + 20, load: { load1: 3.5, load5: 1, load15: 0.5 } }], [], []);
    assert.deepEqual(load1(renderMetrics(hub, { openMetrics: false }).body, 'pi-b'), ['3.5', String((T0 + 20) * 1000)]);
  });

  it('a node removed from the inventory leaves the body', () => {
    assert.ok(load1(renderMetrics(hub, { openMetrics: false }).body, 'pi-b'));
    syncNodes(hub, [spec('pi-a')], T0 + 30);
    const body = renderMetrics(hub, { openMetrics: false }).body;
    assert.equal(load1(body, 'pi-b'), undefined);
    assert.ok(load1(body, 'pi-a'));
  });
});
