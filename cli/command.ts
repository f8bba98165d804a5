/**
 * What a CLI command is (cli/commands/*.ts, registered in cli/commands/index.ts), its flags, and
 * how argv becomes its options: an unknown flag is a one-line error naming it with the nearest
 * known one; `--help` prints the command's own usage, flags and examples.
 */
import { parseArgs } from 'node:util';
import { checkFlag, distance, envName } from '../shared/config/config.js';
import { lambdaContext } from './lambdaContext.js';
import { loadHandler, readServerless } from './serverlessFunctions.js';

/** How the process was started: the launcher's PID, taken by bin/edgefleet.js before the sources load. */
export const launch = { parentPid: process.ppid };

/** Exit status 1: bad flags, arguments, config or inventory, in the user's words. */
export class UsageError extends Error {}

export interface Flag {
  name: string;
  short?: string;
  type: 'string' | 'boolean';
  multiple?: boolean;
  /** The value's name in help: FILE, SECONDS. */
  value?: string;
  help: string;
  /**
   * The config key the flag sets (shared/config/config.ts): its value is checked by the key's
   * rule, then given to the handlers as the key's variable, so they see the same configuration
   * whether the CLI, the hub, serverless-offline or AWS runs them.
   */
  key?: string;
  /** The variable it sets when it is no config key (--config → EDGEFLEET_CONFIG). */
  env?: string;
}

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  name: string;
  /** Positional arguments in the usage line: `MODEL:TAG`, `[ID]`. */
  args?: string;
  /** One line for the command list. */
  summary: string;
  /** More lines for `edgefleet CMD --help`. */
  description?: string;
  flags: Flag[];
  examples: string[];
  /** The log level when neither -v nor EDGEFLEET_LOG_LEVEL says (the hub logs its rounds). */
  logLevel?: string;
  run(values: Values, positionals: string[]): Promise<number> | number;
}

/** Flags every command takes (they all read the configuration). */
export const COMMON_FLAGS: Flag[] = [
  { name: 'inventory', short: 'i', type: 'string', value: 'FILE', help: 'Ansible inventory (INI or YAML file, or a directory)', key: 'inventory' },
  { name: 'db', type: 'string', value: 'PATH', help: 'SQLite database', key: 'db' },
  { name: 'config', type: 'string', value: 'FILE', help: 'configuration file', env: 'EDGEFLEET_CONFIG' },
  { name: 'verbose', short: 'v', type: 'boolean', help: 'log each step (JSON lines on stderr)' },
  { name: 'help', short: 'h', type: 'boolean', help: 'this help' },
];

export const JSON_FLAG: Flag = { name: 'json', type: 'boolean', help: 'JSON instead of a table' };

const allFlags = (c: Command) => [...c.flags, ...COMMON_FLAGS];

/** argv after the command's name → its flag values and positionals; UsageError for any flag it does not take. */
export function parseCommandArgs(c: Command, argv: string[]): { values: Values; positionals: string[] } {
  const flags = allFlags(c);
  // Our own scan first: parseArgs' error for an unknown flag is long and suggests nothing.
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (!a.startsWith('-') || a === '-') continue;
    const long = a.startsWith('--');
    const name = long ? a.slice(2).split('=')[0]! : a.slice(1, 2);
    const flag = flags.find((f) => (long ? f.name === name : f.short === name));
    if (!flag) throw new UsageError(`${c.name}: unknown flag ${long ? '--' : '-'}${name}${didYouMean(name, flags)}; see edgefleet ${c.name} --help`);
    if (flag.type === 'string' && !a.includes('=') && (long || a.length === 2)) {
      if (argv[i + 1] === undefined) throw new UsageError(`${c.name}: ${a} needs a value (${flag.value ?? 'VALUE'}); see edgefleet ${c.name} --help`);
      i++;
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(flags.map((f) => [f.name, { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) }])),
    });
  } catch (e) {
    // e.g. "Option '--db <value>' argument missing": the first line only, and where to look.
    throw new UsageError(`${c.name}: ${(e as Error).message.split('\n')[0]}; see edgefleet ${c.name} --help`);
  }
  return { values: parsed.values as Values, positionals: parsed.positionals };
}

/** Flags with a config key or variable → the environment the handlers read (checked first). */
export function applyFlagsToEnv(c: Command, values: Values): void {
  for (const f of allFlags(c)) {
    const v = values[f.name];
    if (typeof v !== 'string') continue;
    if (f.key) {
      checkFlag(`--${f.name}`, f.key, v);
      process.env[envName(f.key)] = v;
    } else if (f.env) process.env[f.env] = v;
  }
}

function didYouMean(name: string, flags: Flag[]): string {
  const best = flags.map((f) => [f, distance(name, f.name)] as const).sort((a, b) => a[1] - b[1])[0];
  return best && best[1] <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean --${best[0].name}?)` : '';
}

function flagLine(f: Flag): [string, string] {
  const names = `${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.value ? ` ${f.value}` : ''}`;
  const env = f.key ? envName(f.key) : f.env;
  return [names, `${f.help}${f.multiple ? ' (repeatable)' : ''}${env ? `  [${env}]` : ''}`];
}

/** `edgefleet CMD --help`. */
export function commandHelp(c: Command): string {
  const rows = (flags: Flag[]) => {
    const lines = flags.map(flagLine);
    const w = Math.max(...lines.map(([n]) => n.length));
    return lines.map(([n, h]) => `  ${n.padEnd(w)}  ${h}`).join('\n');
  };
  return [
    `Usage: edgefleet ${c.name}${c.args ? ` ${c.args}` : ''} [options]`,
    '',
    c.summary,
    ...(c.description ? ['', c.description] : []),
    ...(c.flags.length ? ['', 'Options:', rows(c.flags)] : []),
    '',
    'Options (every command):',
    rows(COMMON_FLAGS),
    '',
    c.examples.length > 1 ? 'Examples:' : 'Example:',
    ...c.examples.map((e) => `  ${e}`),
  ].join('\n');
}

/** Run one function of serverless.yml here, as the hub and serverless-offline do. */
export async function invokeByName(name: string, event: unknown): Promise<unknown> {
  const sls = readServerless();
  const def = sls.functions.find((f) => f.name === name);
  if (!def) throw new UsageError(`unknown function "${name}"; serverless.yml has: ${sls.functions.map((f) => f.name).join(', ')}`);
  const handler = await loadHandler(def);
  return handler(event, lambdaContext(name));
}

/** A string flag's value, or undefined. */
export const str = (v: Values[string]): string | undefined => (typeof v === 'string' ? v : undefined);
