/**
 * One edge node for model tests, all real: Debian's docker-registry, an OpenSSH node, a Podman
 * API service as its engine (reached through the node by stream-local forwarding), and an
 * edgefleet inventory + config for them in a temp folder.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../shared/config/config.js';
import { startPodman, type PodmanEngine } from './podman.js';
import { startRegistry, type TestRegistry } from './registry.js';
import { startFleet, type Fleet } from './sshFleet.js';

export interface ModelLab {
  dir: string;
  registry: TestRegistry;
  fleet: Fleet;
  engine: PodmanEngine;
  /** Registry `lab` (insecure), graceSeconds 1, stopTimeoutSeconds 2, the fleet's known_hosts. */
  config: Config;
  close(): Promise<void>;
}

export async function startModelLab(dirPrefix: string): Promise<ModelLab> {
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  const [registry, fleet] = await Promise.all([startRegistry(), startFleet({ count: 1 })]);
  const engine = await startPodman({ insecureRegistries: [new URL(registry.url).host], socketOwner: fleet.nodes[0]!.user });
  const n = fleet.nodes[0]!;
  writeFileSync(join(dir, 'inventory.ini'), `[edge]\n${n.name} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile} edgefleet_engine_socket=${engine.socketPath} edgefleet_network_mode=host\n`);
  writeFileSync(
    join(dir, 'edgefleet.yaml'),
    ['inventory: inventory.ini', 'db: edgefleet.db', 'ssh:', `  knownHostsFile: ${fleet.knownHostsFile}`, 'deploy:', '  graceSeconds: 1', '  stopTimeoutSeconds: 2', 'registries:', '  - name: lab', `    url: ${registry.url}`, '    insecure: true', ''].join('\n'),
  );
  const config = loadConfig({ file: join(dir, 'edgefleet.yaml'), env: {} });
  return {
    dir,
    registry,
    fleet,
    engine,
    config,
    async close() {
      // Each part is closed even when one before it fails, so no process outlives the test.
      const closed = await Promise.allSettled([engine.close()]);
      closed.push(...(await Promise.allSettled([fleet.close(), registry.close()])));
      rmSync(dir, { recursive: true, force: true });
      for (const c of closed) if (c.status === 'rejected') throw c.reason;
    },
  };
}
