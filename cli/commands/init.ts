import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { inventoryNodes } from '../../shared/collect/collection.js';
import { loadConfig } from '../../shared/config/config.js';
import { jsonLogger } from '../../shared/handler/logger.js';
import { storeFor } from '../../shared/handler/resources.js';
import { resolveSsmSecrets } from '../../shared/config/ssmSecrets.js';
import type { Command } from '../command.js';
import { CONFIG_TEMPLATE, LOCAL_INVENTORY } from '../configTemplate.js';

export const init: Command = {
  name: 'init',
  summary: 'write edgefleet.yaml (when missing), create or upgrade the database, sync the nodes',
  flags: [
    { name: 'force', type: 'boolean', help: 'overwrite edgefleet.yaml' },
    { name: 'store', type: 'string', value: 'PATH|URL', help: 'the store: a SQLite file, or postgres://user@host:5432/db (creates the schema)', key: 'db' },
  ],
  examples: ['edgefleet init', 'edgefleet init --config /etc/edgefleet/edgefleet.yaml', 'edgefleet init --store postgres://edgefleet@db.lab:5432/edgefleet'],
  async run(o) {
    const file = process.env.EDGEFLEET_CONFIG ?? 'edgefleet.yaml';
    if (!existsSync(file) || o.force) {
      writeFileSync(file, CONFIG_TEMPLATE);
      process.stdout.write(`wrote ${file}\n`);
    } else {
      process.stdout.write(`${file} exists (--force to overwrite)\n`);
    }
    const config = await resolveSsmSecrets(loadConfig());
    if (!existsSync(config.inventory)) {
      // A first inventory to start from: the hub itself.
      mkdirSync(dirname(config.inventory), { recursive: true });
      writeFileSync(config.inventory, LOCAL_INVENTORY);
      process.stdout.write(`wrote ${config.inventory} (this machine; add your nodes to it)\n`);
    }
    const specs = inventoryNodes(config);
    const store = await storeFor(config);
    const sync = await store.syncNodes(specs, Math.floor(Date.now() / 1000), { keepVars: config.store.keepVars });
    jsonLogger({ fn: 'init' }).info('nodes synced', { ...sync });
    process.stdout.write(`database ${store.where} ready (schema ${await store.schemaVersion()}); nodes: ${sync.added.length} added, ${sync.updated.length} updated, ${sync.removed.length} removed, ${sync.unchanged} unchanged\n`);
    return 0;
  },
};
