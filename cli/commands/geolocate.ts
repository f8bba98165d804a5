import { inventoryNodes } from '../../shared/collect/collection.js';
import type { AddressProgress, GeolocateSummary } from '../../shared/collect/geolocate.js';
import { loadConfig } from '../../shared/config/config.js';
import { progress } from '../../shared/handler/progress.js';
import { invokeByName, JSON_FLAG, type Command } from '../command.js';
import { writeJsonOrTable } from '../table.js';
import { truncateToWidth } from '../width.js';
import { location } from './nodes.js';

/** `edgefleet geolocate [--refresh]`: the geolocate handler here, a row per node. */
export const geolocate: Command = {
  name: 'geolocate',
  summary: 'locate the nodes from their inventory address or latitude/longitude',
  description: 'Addresses are cached; --refresh looks every address up again.',
  flags: [{ name: 'refresh', type: 'boolean', help: 'look every address up again' }, JSON_FLAG],
  examples: ['edgefleet geolocate', 'edgefleet geolocate --refresh --json'],
  async run(o) {
    const asJson = o.json === true;
    const tty = process.stderr.isTTY && !asJson;
    const onAddress = (_fn: string, p: AddressProgress, done: number, total: number) => {
      if (tty) process.stderr.write(`\r\x1b[Kgeocoding ${done}/${total} addresses (${truncateToWidth(p.address, 40)}: ${p.status}${p.precision ? ' ' + p.precision : ''})`);
    };
    const config = loadConfig();
    inventoryNodes(config);
    progress.on('address', onAddress);
    let summary: GeolocateSummary;
    try {
      summary = (await invokeByName('geolocate', { refresh: o.refresh === true })) as GeolocateSummary;
    } finally {
      progress.off('address', onAddress);
      if (tty) process.stderr.write('\r\x1b[K');
    }
    writeJsonOrTable(asJson, summary, ['NODE', 'ADDRESS', 'LOCATION', 'SOURCE', 'PRECISION', 'PLACE OR ERROR'], () =>
      summary.perNode.map((n) => [n.node, n.address, location(n.latitude, n.longitude), n.source, n.precision, n.error ?? n.displayName ?? '']),
      `no nodes in the inventory ${config.inventory}: add hosts to it (see edgefleet init)`,
    );
    if (asJson || summary.perNode.length === 0) return 0;
    const b = summary.bySource;
    process.stdout.write(
      `\n${summary.located}/${summary.nodes} nodes located (inventory ${b.inventory}, geocoded ${b.geocoded}, cached ${b.cached}, pending ${b.pending}, failed ${b.failed}); ` +
        `${summary.lookups} addresses looked up in ${summary.requests} requests${summary.deferred ? `, ${summary.deferred} left for the next run` : ''}\n`,
    );
    return 0;
  },
};
