/**
 * GET /metrics against the real Prometheus, the setup test/prometheus.test.ts (SQLite) and
 * test/prometheusPostgres.test.ts share: three synthetic nodes (fakeProc.ts) whose counters move
 * every 400 ms, `edgefleet hub` collecting them every 1.5 s into `db`, and Prometheus 2.42
 * scraping the hub every 500 ms — started, then waited for until Prometheus holds `rounds` rounds
 * of every node (rounds before its first scrape it never sees).
 */
import { join } from 'node:path';
import { fakeFleet, tickFleet } from './fakeProc.js';
import { startHub, type HubProcess } from './hub.js';
import { freePort } from './ports.js';
import { startPrometheus, type Prometheus } from './prometheus.js';
import { until } from './until.js';

export const SCRAPED_NODES = [
  { name: 'pi-a', groups: ['pis'] },
  { name: 'pi-b', groups: ['lab', 'pis'] },
  { name: 'x86-c', groups: ['x86s'] },
];

export interface ScrapedFleet {
  hub: HubProcess;
  prom: Prometheus;
  /** The counters' ticker: clearInterval it before stopping the rest. */
  ticker: NodeJS.Timeout;
}

/** `db`: the hub's `--db` (a SQLite path or a postgres:// URL). Whatever started is stopped again if the wait fails. */
export async function startScrapedFleet(dir: string, db: string, rounds: number, timeoutMs: number): Promise<ScrapedFleet> {
  const { fakes, inventory } = fakeFleet(dir, SCRAPED_NODES);
  const port = await freePort();
  const hub = await startHub({ cwd: dir, port, args: ['-i', inventory, '--db', db, '--interval', '1.5'], env: { EDGEFLEET_LOG_LEVEL: 'warn' } });
  let prom: Prometheus | undefined;
  // Counters move on every 400 ms, out of step with the hub's rounds (each file is swapped whole).
  let ticker: NodeJS.Timeout | undefined;
  try {
    prom = await startPrometheus({ dir: join(dir, 'prom'), scrape: { job: 'edgefleet', target: `127.0.0.1:${port}`, intervalMs: 500 } });
    ticker = tickFleet(fakes, 400);
    await until(
      `${rounds} rounds scraped`,
      timeoutMs,
      async () => {
        const r = await prom!.query(`min(count_over_time(node_network_receive_bytes_total{device="eth0"}[10m])) and count(node_network_receive_bytes_total{device="eth0"}) == ${SCRAPED_NODES.length}`);
        return r.length > 0 && Number(r[0]!.value![1]) >= rounds;
      },
      { everyMs: 250, detail: () => `${hub.stderr()}\n${prom!.log()}` },
    );
    return { hub, prom, ticker };
  } catch (e) {
    if (ticker) clearInterval(ticker);
    await prom?.stop();
    await hub.kill();
    throw e;
  }
}
