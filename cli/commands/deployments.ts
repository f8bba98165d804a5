import { JSON_FLAG, UsageError, type Command } from '../command.js';
import { deploymentsCommand } from '../deploy.js';

export const deployments: Command = {
  name: 'deployments',
  args: '[ID]',
  summary: 'the latest deployments, or one with each node’s state and every event',
  flags: [JSON_FLAG],
  examples: ['edgefleet deployments', 'edgefleet deployments 0123456789ab'],
  run(o, args) {
    if (args.length > 1) throw new UsageError('deployments takes at most one ID');
    return deploymentsCommand(args[0], o.json === true);
  },
};
