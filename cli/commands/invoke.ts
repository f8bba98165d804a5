import { readFileSync } from 'node:fs';
import { invokeByName, str, UsageError, type Command } from '../command.js';

/** Run one handler and print its result as JSON. */
export async function invokeAndPrint(name: string | undefined, eventFile: string | undefined): Promise<number> {
  if (!name) throw new UsageError('invoke needs a FUNCTION name (see serverless.yml)');
  let event: unknown = {};
  if (eventFile) {
    try {
      event = JSON.parse(readFileSync(eventFile, 'utf8'));
    } catch (e) {
      throw new UsageError(`--event ${eventFile}: ${(e as Error).message}`);
    }
  }
  const result = await invokeByName(name, event);
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  return 0;
}

export const invoke: Command = {
  name: 'invoke',
  args: 'FUNCTION',
  summary: 'run one handler of serverless.yml once and print its result',
  flags: [{ name: 'event', type: 'string', value: 'FILE', help: 'the JSON event given to the handler (default {})' }],
  examples: ['edgefleet invoke detectAnomalies', 'edgefleet invoke health --event event.json'],
  run(o, args) {
    if (args.length > 1) throw new UsageError('invoke takes one FUNCTION');
    return invokeAndPrint(args[0], str(o.event));
  },
};
