import { gunzipSync } from 'node:zlib';

/**
 * How a command's stdout crosses SSM, whose GetCommandInvocation keeps only the first 24,000
 * characters (ListCommandInvocations 2,500) and cuts silently: the node gzips it and writes it
 * in base64 (both in busybox) between two marker lines, with the exit status inside the
 * compressed stream. The hub takes output as data only when both markers are there, the
 * base64 decodes and the gzip stream is whole — a cut anywhere is detected, never parsed.
 */
const BEGIN = 'EDGEFLEET-GZ-BEGIN';
const END = 'EDGEFLEET-GZ-END';
const STATUS = '\nEDGEFLEET-STATUS ';
/** A decoded output larger than this is refused (a probe is tens of KiB). */
export const MAX_DECODED_BYTES = 16 << 20;

/** The shell that runs `command` on the node and prints its stdout compressed and framed; stderr passes as it is. */
export function envelopeCommand(command: string): string {
  // The command runs in a subshell of its own: its `exit` or `exec` ends only that subshell,
  // and the status line is printed after it whatever it did.
  return [`echo ${BEGIN}`, `{ (`, command, `); printf '\\n${STATUS.slice(1)}%s\\n' "$?"; } | gzip -c | base64`, `echo ${END}`].join('\n');
}

export class EnvelopeError extends Error {
  override name = 'EnvelopeError';
}

/** The command's stdout and exit status, or an EnvelopeError saying how the output was damaged. */
export function openEnvelope(text: string): { stdout: Buffer; code: number } {
  const begin = text.indexOf(`${BEGIN}\n`);
  if (begin < 0) throw new EnvelopeError(`output does not start with ${BEGIN} (is gzip or base64 missing on the node?): ${JSON.stringify(text.slice(0, 80))}`);
  const end = text.indexOf(`\n${END}`, begin);
  if (end < 0) throw new EnvelopeError(`output cut after ${text.length} characters (no ${END} line): SSM keeps at most 24,000 characters of stdout`);
  const b64 = text.slice(begin + BEGIN.length + 1, end).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new EnvelopeError('output is not base64');
  let raw: Buffer;
  try {
    raw = gunzipSync(Buffer.from(b64, 'base64'), { maxOutputLength: MAX_DECODED_BYTES });
  } catch (e) {
    throw new EnvelopeError(`compressed output is damaged: ${(e as Error).message}`, { cause: e });
  }
  const at = raw.lastIndexOf(STATUS);
  const m = at < 0 ? null : /^(\d+)\n$/.exec(raw.subarray(at + STATUS.length).toString('latin1'));
  if (!m) throw new EnvelopeError('compressed output has no exit status line');
  return { stdout: raw.subarray(0, at), code: Number(m[1]) };
}

/** Whether `text` holds a whole envelope (both markers), e.g. in ListCommandInvocations' 2,500 characters. */
export function isWholeEnvelope(text: string): boolean {
  const begin = text.indexOf(`${BEGIN}\n`);
  return begin >= 0 && text.indexOf(`\n${END}`, begin) >= 0;
}
