import { ParseError } from './errors.js';
import { linesOf, unsignedDecimal, unsignedInt, wordsOf } from './fields.js';

/**
 * /proc/loadavg: `0.21 0.37 0.39 1/719 19737` — load averages over 1, 5 and 15 minutes,
 * running/total scheduling entities, last PID.
 */

const FILE = '/proc/loadavg';

export interface Loadavg {
  /** Load average over 1 minute (runnable + uninterruptible tasks). */
  load1: number;
  load5: number;
  load15: number;
}

/** Parse /proc/loadavg; anything that is not exactly one line of that shape throws ParseError. */
export function parseLoadavg(text: string): Loadavg {
  const lines = linesOf(text);
  const line = lines[0];
  if (lines.length !== 1 || line === undefined) {
    throw new ParseError(FILE, `expected one line, got ${lines.length}`, { text });
  }
  const words = wordsOf(line);
  const [l1, l5, l15, tasks, lastPid] = words;
  if (words.length !== 5 || l1 === undefined || l5 === undefined || l15 === undefined || tasks === undefined || lastPid === undefined) {
    throw new ParseError(FILE, `expected 5 fields, got ${words.length}`, { line: 1, text: line });
  }
  if (!/^[0-9]+\/[0-9]+$/.test(tasks)) {
    throw new ParseError(FILE, 'not running/total (tasks)', { line: 1, text: tasks });
  }
  unsignedInt(lastPid, { file: FILE, line: 1, field: 'last pid' });
  return {
    load1: unsignedDecimal(l1, { file: FILE, line: 1, field: 'load1' }),
    load5: unsignedDecimal(l5, { file: FILE, line: 1, field: 'load5' }),
    load15: unsignedDecimal(l15, { file: FILE, line: 1, field: 'load15' }),
  };
}
