import { redactSecrets, type Logger } from '../domain/index.js';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = keyof typeof LEVELS;

/** One JSON object per line on stderr (stdout stays for results), with the fields of `base` on every line. */
export function jsonLogger(base: Record<string, unknown> = {}, level: LogLevel = logLevel()): Logger {
  const min = LEVELS[level];
  const write = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[lvl] < min) return;
    // Secret-named fields (shared/domain/secrets.ts), at any depth, are never written.
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, msg, ...base, ...redactSecrets(fields ?? {}) };
    process.stderr.write(JSON.stringify(entry) + '\n');
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

/** EDGEFLEET_LOG_LEVEL: debug, info (default), warn, error or silent. */
export function logLevel(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const v = (env.EDGEFLEET_LOG_LEVEL ?? 'info').toLowerCase();
  return v in LEVELS ? (v as LogLevel) : 'info';
}
