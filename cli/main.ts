/**
 * `edgefleet COMMAND [options]`: finds the command (cli/commands/index.ts), parses its flags,
 * turns the flags into the configuration's variables, runs it, and maps errors to exit codes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { distance } from '../shared/config/config.js';
import { backgroundSettled } from '../shared/handler/background.js';
import { closeResources } from '../shared/handler/resources.js';
import { applyFlagsToEnv, COMMON_FLAGS, commandHelp, launch, parseCommandArgs, UsageError } from './command.js';
import { COMMANDS, commandNamed } from './commands/index.js';
import { PROJECT_ROOT } from './serverlessFunctions.js';

export { UsageError };

function usage(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length + (c.args ? c.args.length + 1 : 0)));
  const common = COMMON_FLAGS.map((f) => `  ${(f.short ? `-${f.short}, ` : '    ') + `--${f.name}${f.value ? ` ${f.value}` : ''}`}`.padEnd(26) + f.help).join('\n');
  return `edgefleet — watch a fleet of edge nodes from an Ansible inventory

Usage: edgefleet COMMAND [options]     (edgefleet COMMAND --help: its options and an example)

Commands:
${COMMANDS.map((c) => `  ${`${c.name}${c.args ? ` ${c.args}` : ''}`.padEnd(w)}  ${c.summary}`).join('\n')}

Options (every command):
${common}
      --version           print edgefleet's version
Exit codes: 0 all well; 1 bad input or configuration; 2 a node's data was rejected; 4 a node was unreachable.`;
}

export function version(): string {
  return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export async function main(argv: string[], started?: { parentPid: number }): Promise<number> {
  if (started) launch.parentPid = started.parentPid;
  // The command is the first word that is not a flag (or a common flag's value): `edgefleet -v run` works too.
  let at = -1;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) {
      at = i;
      break;
    }
    const f = COMMON_FLAGS.find((x) => a === `--${x.name}` || a === `-${x.short}`);
    if (f?.type === 'string') i++;
  }
  const name = at >= 0 ? argv[at]! : undefined;
  const rest = at >= 0 ? [...argv.slice(0, at), ...argv.slice(at + 1)] : argv;
  if (name === undefined || name === 'help') {
    const about = name === 'help' ? rest.find((a) => !a.startsWith('-')) : undefined;
    const c = about ? commandNamed(about) : undefined;
    if (about && !c) return usageError(`unknown command "${about}"${nearest(about)}; see edgefleet --help`);
    if (rest.includes('--version') || rest.includes('-V')) {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    const asked = name === 'help' || rest.includes('--help') || rest.includes('-h');
    if (!asked && rest.length) return usageError(`${rest[0]}: give a COMMAND first; see edgefleet --help`);
    process.stdout.write((c ? commandHelp(c) : usage()) + '\n');
    return asked ? 0 : 1;
  }
  const command = commandNamed(name);
  if (!command) return usageError(`unknown command "${name}"${nearest(name)}; see edgefleet --help`);

  try {
    const { values, positionals } = parseCommandArgs(command, rest);
    if (values.help) {
      process.stdout.write(commandHelp(command) + '\n');
      return 0;
    }
    applyFlagsToEnv(command, values);
    process.env.EDGEFLEET_LOG_LEVEL ??= values.verbose ? 'info' : (command.logLevel ?? 'warn');
    return await command.run(values, positionals);
  } catch (e) {
    const err = e as Error;
    process.stderr.write(`edgefleet: ${err.message}\n`);
    if (process.env.EDGEFLEET_LOG_LEVEL === 'debug' && err.stack) process.stderr.write(err.stack + '\n');
    return 1;
  } finally {
    // `invoke createDeployment` answers at once: its deployment runs to the end first.
    await backgroundSettled();
    await closeResources();
  }
}

function usageError(message: string): number {
  process.stderr.write(`edgefleet: ${message}\n`);
  return 1;
}

function nearest(name: string): string {
  const best = COMMANDS.map((c) => [c.name, distance(name, c.name)] as const).sort((a, b) => a[1] - b[1])[0];
  return best && best[1] <= 2 ? ` (did you mean ${best[0]}?)` : '';
}
