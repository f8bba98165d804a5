import type { Command } from '../command.js';
import { runHub } from '../hub.js';

/** `edgefleet hub`: cli/hub.ts runs it. */
export const hub: Command = {
  name: 'hub',
  summary: 'run the scheduled handlers and HTTP routes of serverless.yml until SIGTERM or SIGINT',
  description: 'collectAll runs every hub.intervalSeconds; the other schedules at their serverless.yml rate.',
  flags: [
    { name: 'interval', type: 'string', value: 'SECONDS', help: 'seconds between collectAll rounds', key: 'hub.intervalSeconds' },
    { name: 'port', type: 'string', value: 'PORT', help: 'HTTP port', key: 'hub.port' },
    { name: 'host', type: 'string', value: 'ADDRESS', help: 'HTTP address (beyond loopback, routes need an API key)', key: 'hub.host' },
  ],
  examples: ['edgefleet hub --interval 30 --port 8070'],
  logLevel: 'info',
  run: () => runHub(),
};
