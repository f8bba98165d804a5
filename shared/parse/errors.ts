/**
 * The one error class of the parse layer. A node that prints something that is not the kernel
 * file we asked for gets its data rejected with a ParseError, never stored half-understood.
 */

/** Longest piece of bad text quoted in a message; the rest is cut with `…`. */
const QUOTE_MAX_CHARS = 120;

/** Quote bad text for a message: JSON string escapes make control bytes and blanks visible. */
export function quote(text: string): string {
  const cut = text.length > QUOTE_MAX_CHARS ? `${text.slice(0, QUOTE_MAX_CHARS)}…` : text;
  return JSON.stringify(cut);
}

export interface ParseErrorOptions {
  /** 1-based line of `file` where the bad text is. */
  line?: number;
  /** The bad text itself, quoted in the message. */
  text?: string;
  /** The original error, if any. */
  cause?: unknown;
}

/**
 * `file:line: what is wrong: "the bad text"`, like Ansible's `_raise_error` and procfs'
 * `couldn't parse %q (btime)`.
 */
export class ParseError extends Error {
  override readonly name = 'ParseError';
  /** Canonical path of the file (`/proc/stat`) or section (`df -Pk`) that failed. */
  readonly file: string;
  readonly line?: number;
  /** The offending text, unquoted. */
  readonly text?: string;

  constructor(file: string, problem: string, options: ParseErrorOptions = {}) {
    const where = options.line === undefined ? file : `${file}:${options.line}`;
    const what = options.text === undefined ? problem : `${problem}: ${quote(options.text)}`;
    super(`${where}: ${what}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.file = file;
    if (options.line !== undefined) this.line = options.line;
    if (options.text !== undefined) this.text = options.text;
  }
}
