import { loadConfig } from '../../shared/config/config.js';
import { loadInventory, toAnsibleList } from '../../shared/inventory/index.js';
import { UsageError, type Command } from '../command.js';

export const inventory: Command = {
  name: 'inventory',
  summary: 'print the inventory as ansible-inventory --list does',
  flags: [{ name: 'list', type: 'boolean', help: 'the whole inventory as JSON (required)' }],
  examples: ['edgefleet inventory -i inventory/hosts.ini --list'],
  run(o, args) {
    if (!o.list) throw new UsageError('inventory needs --list');
    if (args.length) throw new UsageError(`inventory: unexpected ${JSON.stringify(args.join(' '))}`);
    process.stdout.write(JSON.stringify(toAnsibleList(loadInventory(loadConfig().inventory)), null, 4) + '\n');
    return 0;
  },
};
