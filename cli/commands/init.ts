import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { inventoryNodes } from '../../shared/collect/collection.js';
import { loadConfig } from '../../shared/config/config.js';
import { jsonLogger } from '../../shared/handler/logger.js';
import { dbFor } from '../../shared/handler/resources.js';
import { syncNodes } from '../../shared/store/index.js';
import type { Command } from '../command.js';
import { CONFIG_TEMPLATE, LOCAL_INVENTORY } from '../configTemplate.js';

export const init: Command = {
  name: 'init',
  summary: 'write edgefleet.yaml (when missing), create or upgrade the database, sync the nodes',
  flags: [{ name: 'force', type: 'boolean', help: 'overwrite edgefleet.yaml' }],
  examples: ['edgefleet init', 'edgefleet init --config /etc/edgefleet/edgefleet.yaml'],
  run(o) {
    const file = process.env.EDGEFLEET_CONFIG ?? 'edgefleet.yaml';
    if (!existsSync(file) || o.force) {
      writeFileSync(file, CONFIG_TEMPLATE);
      process.stdout.write(`wrote ${file}\n`);
    } else {
      process.stdout.write(`${file} exists (--force to overwrite)\n`);
    }
    const config = loadConfig();
    if (!existsSync(config.inventory)) {
      // A first inventory to start from: the hub itself.
      mkdirSync(dirname(config.inventory), { recursive: true });
      writeFileSync(config.inventory, LOCAL_INVENTORY);
      process.stdout.write(`wrote ${config.inventory} (this machine; add your nodes to it)\n`);
    }
    const specs = inventoryNodes(config);
    const sync = syncNodes(dbFor(config), specs, Math.floor(Date.now() / 1000), { keepVars: config.store.keepVars });
    jsonLogger({ fn: 'init' }).info('nodes synced', { ...sync });
    process.stdout.write(`database ${config.db} ready; nodes: ${sync.added.length} added, ${sync.updated.length} updated, ${sync.removed.length} removed, ${sync.unchanged} unchanged\n`);
    return 0;
  },
};
