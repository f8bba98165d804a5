/**
 * `npm run bench:deploy`: what a deployment costs beyond pulling the image. Real parts, as in
 * test/deploy.test.ts: Debian's docker-registry on loopback, 2 OpenSSH nodes each with its own
 * Podman API service, reached by SSH stream-local forwarding. For each image size (a static
 * busybox layer plus a weights layer of random bytes) it deploys a first tag, then a second
 * one that replaces it stop-first, then a third that replaces that one start-first, with
 * graceSeconds 0 (the grace period is a chosen wait, not overhead). overhead = wall time of the
 * deployment − the longest node's pull (listing containers, creating, starting, inspecting,
 * stopping and removing the previous container, claims and leases, and every store write).
 * Last line: `bench:deploy nodes=2 total=<s>s pull=<s>s overhead=<s>s stop_first_overhead=<s>s
 * start_first_overhead=<s>s` for the largest image's replacing deploys (the first three fields:
 * the stop-first one, the default on these host-network nodes).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inventoryNodes } from '../shared/collect/collection.js';
import { loadConfig } from '../shared/config/config.js';
import { createDeployment, parseDeployRequest, runDeployment, type DeploymentSummary } from '../shared/deploy/index.js';
import { silentLogger } from '../shared/domain/index.js';
import { openDb } from '../shared/store/index.js';
import { TransportPool } from '../shared/transport/pool.js';
import { pushModelImage, startPodman, type PodmanEngine } from '../test/harness/podman.js';
import { startRegistry } from '../test/harness/registry.js';
import { startFleet } from '../test/harness/sshFleet.js';

const SIZES_MB = [1, 32];
const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-deploy-'));
const registry = await startRegistry();
const fleet = await startFleet({ count: 2 });
let engines: PodmanEngine[] = [];
try {
  engines = await Promise.all(fleet.nodes.map(() => startPodman({ insecureRegistries: [new URL(registry.url).host], socketOwner: fleet.nodes[0]!.user })));
  writeFileSync(
    join(dir, 'inventory.ini'),
    fleet.nodes.map((n, i) => `${n.name} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile} edgefleet_engine_socket=${engines[i]!.socketPath} edgefleet_network_mode=host`).join('\n') + '\n',
  );
  writeFileSync(
    join(dir, 'edgefleet.yaml'),
    ['inventory: inventory.ini', 'db: bench.db', 'ssh:', `  knownHostsFile: ${fleet.knownHostsFile}`, 'registries:', '  - name: lab', `    url: ${registry.url}`, '    insecure: true', ''].join('\n'),
  );
  const config = loadConfig({ file: join(dir, 'edgefleet.yaml'), env: {} });
  const db = openDb(config.db);
  const pool = new TransportPool({ knownHostsFile: config.ssh.knownHostsFile, acceptNewHostKeys: false, privateKeyFile: '', agentSocket: '', user: 'root', connectTimeoutMs: 5000 });
  const deps = { db, config, pool, log: silentLogger, inventory: inventoryNodes(config) };
  const last: Record<string, { total: number; pull: number }> = {};
  const steps = [
    { tag: 'v1', what: 'first deploy' },
    { tag: 'v2', what: 'replacing v1 stop-first', order: 'stop-first' },
    { tag: 'v3', what: 'replacing v2 start-first', order: 'start-first' },
  ];
  for (const mb of SIZES_MB) {
    const repo = `bench/model-${mb}mb`;
    for (const { tag } of steps) await pushModelImage(registry.push, repo, tag, { entrypoint: ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'], weightsBytes: mb * 1024 * 1024 });
    for (const { tag, what, order } of steps) {
      const req = parseDeployRequest({ image: `${repo}:${tag}`, nodes: fleet.nodes.map((n) => n.name), options: { graceSeconds: 0, restart: 'no', ...(order ? { order } : {}) } }, { registries: ['lab'] });
      const d = await createDeployment(deps, req);
      const s: DeploymentSummary = await runDeployment(deps, d.id);
      if (s.status !== 'succeeded') throw new Error(`deploy ${repo}:${tag} ${s.status}: ${JSON.stringify(s.nodes)}`);
      const total = s.durationMs / 1000;
      const pull = Math.max(...s.nodes.map((n) => (n.pullMs ?? 0) / 1000));
      console.log(`image ${mb} MiB + busybox, ${what}: total ${total.toFixed(3)} s, pull ${pull.toFixed(3)} s, overhead ${(total - pull).toFixed(3)} s`);
      if (order) last[order] = { total, pull };
    }
  }
  await pool.closeAll();
  db.close();
  const stop = last['stop-first']!;
  const start = last['start-first']!;
  console.log(
    `bench:deploy nodes=2 total=${stop.total.toFixed(3)}s pull=${stop.pull.toFixed(3)}s overhead=${(stop.total - stop.pull).toFixed(3)}s stop_first_overhead=${(stop.total - stop.pull).toFixed(3)}s start_first_overhead=${(start.total - start.pull).toFixed(3)}s`,
  );
} finally {
  await Promise.allSettled(engines.map((e) => e.close()));
  await fleet.close();
  await registry.close();
  rmSync(dir, { recursive: true, force: true });
}
