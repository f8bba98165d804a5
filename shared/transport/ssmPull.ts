import { randomBytes } from 'node:crypto';
import { shellQuote } from './shellQuote.js';
import { TransportError } from './transport.js';

/**
 * An image pull over SSM, live: SSM returns a command's output only when the command ends, so the
 * pull runs in the background on the node (setsid, curl's stdout thinned into a private temp
 * folder, its exit status into a second file) and short follow-up commands return the bytes
 * written since the last offset, at most MAX_CHUNK_BYTES each. Every value is quoted.
 */

/** Raw progress bytes per follow-up: JSON lines gzip ≥ 3×, so its envelope stays under SSM's 24,000 characters. */
export const MAX_CHUNK_BYTES = 32 * 1024;
const FOLDER = /^\/[^\0\n]*\/edgefleet-pull-[0-9a-f]+\.[A-Za-z0-9]+$/;
// Each 4th Downloading/Extracting line and every other line, flushed line by line so a follow-up sees it.
const THIN = `/"status":"(Downloading|Extracting)"/ { if (n++ % 4) next } { print; fflush() }`;

/** A name per pull: two deployments (or two pulls of one) never share a folder. */
export function pullTag(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Start curl in the background (its own session, so the command's end does not end it; `-m` as
 * the node's own backstop should the hub never come back) and print the folder's path.
 */
export function pullStartCommand(curlArgs: string[], body: Buffer, tag: string, timeoutSeconds: number): string {
  // -N: curl writes each piece as it comes (its stdout is a pipe, not a terminal).
  const curl = [...curlArgs.slice(0, 1), '-N', '-m', String(timeoutSeconds), ...curlArgs.slice(1)].map(shellQuote).join(' ');
  const input = body.length ? '"$1/body"' : '/dev/null';
  const job = `{ ${curl} < ${input} 2> "$1/err" & echo $! > "$1/pid"; wait $!; echo $? > "$1/rc.tmp"; } | $2 ${shellQuote(THIN)} > "$1/out"; mv "$1/rc.tmp" "$1/rc"`;
  return [
    'umask 077',
    `d=$(mktemp -d "\${TMPDIR:-/tmp}/edgefleet-pull-${tag}.XXXXXX") || exit 125`,
    ...(body.length ? [`printf '%s' ${shellQuote(body.toString('base64'))} | base64 -d > "$d/body" || { rm -rf "$d"; exit 125; }`] : []),
    ': > "$d/out"',
    's=; command -v setsid > /dev/null 2>&1 && s=setsid',
    // mawk (Debian's awk) reads a pipe in blocks: without -W interactive a line waits for 4 KiB more.
    `a=awk; awk -W version 2>&1 | grep -q mawk && a='awk -W interactive'`,
    `$s sh -c ${shellQuote(job)} sh "$d" "$a" < /dev/null > /dev/null 2>&1 &`,
    `printf '%s\\n' "$d"`,
  ].join('\n');
}

/** The folder the start command printed, checked before it is used in another command. */
export function pullFolder(stdout: Buffer): string {
  const d = stdout.toString('utf8').trim();
  if (!FOLDER.test(d)) throw new TransportError('output', `the node did not start the pull (printed ${JSON.stringify(d.slice(0, 120))})`);
  return d;
}

/**
 * The bytes after `offset` (at most MAX_CHUNK_BYTES) after a first line `RUN`, or `END <status>`
 * when curl has ended and the rest fits, the folder then removed in the same command.
 */
export function pullPollCommand(folder: string, offset: number): string {
  const from = offset + 1;
  return [
    `d=${shellQuote(folder)}`,
    `[ -f "$d/out" ] || { echo 'edgefleet: the pull’s files are gone from the node' >&2; exit 3; }`,
    'rc=-; [ -f "$d/rc" ] && rc=$(cat "$d/rc")',
    'n=$(wc -c < "$d/out")',
    `if [ "$rc" != - ] && [ $((n - ${offset})) -le ${MAX_CHUNK_BYTES} ]; then`,
    `  printf 'END %s\\n' "$rc"; tail -c +${from} "$d/out"; head -c 2000 "$d/err" >&2; rm -rf "$d"`,
    'else',
    `  echo RUN; tail -c +${from} "$d/out" | head -c ${MAX_CHUNK_BYTES}`,
    'fi',
  ].join('\n');
}

/** Kill the background curl by its pid file, let its shell finish writing, remove the folder. */
export function pullStopCommand(folder: string): string {
  return [
    `d=${shellQuote(folder)}`,
    '[ -d "$d" ] || exit 0',
    'p=$(cat "$d/pid" 2> /dev/null)',
    '[ -n "$p" ] && kill "$p" 2> /dev/null',
    'i=0; while [ ! -e "$d/rc" ] && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done',
    'rm -rf "$d"',
  ].join('\n');
}

export interface PollAnswer {
  bytes: Buffer;
  /** curl's exit status once it has ended and every byte is in `bytes`. */
  ended?: number;
}

export function parsePoll(stdout: Buffer): PollAnswer {
  const eol = stdout.indexOf(10);
  const head = eol < 0 ? '' : stdout.subarray(0, eol).toString('latin1');
  const bytes = stdout.subarray(eol + 1);
  if (head === 'RUN') return { bytes };
  const m = /^END (\d+)$/.exec(head);
  if (!m) throw new TransportError('output', `the pull’s follow-up answered ${JSON.stringify(head.slice(0, 80))}`);
  return { bytes, ended: Number(m[1]) };
}

/**
 * curl's `-i` output as it arrives, as one HTTP/1.1 response that ends when the stream does: 1xx
 * blocks dropped, Transfer-Encoding and Content-Length removed (curl has decoded the chunks).
 */
export class ResponseFramer {
  #head = Buffer.alloc(0);
  #started = false;

  /** The bytes to hand the HTTP parser for `chunk`. */
  push(chunk: Buffer): Buffer {
    if (this.#started) return chunk;
    this.#head = Buffer.concat([this.#head, chunk]);
    if (this.#head.length > 64 * 1024) throw new TransportError('output', 'the engine’s response headers are over 64 KiB');
    let at = 0;
    for (;;) {
      const end = this.#head.indexOf('\r\n\r\n', at);
      if (end < 0) {
        this.#head = this.#head.subarray(at);
        return Buffer.alloc(0);
      }
      const head = this.#head.subarray(at, end).toString('latin1');
      if (/^HTTP\/\S+ 1\d\d/.test(head)) {
        at = end + 4;
        continue;
      }
      this.#started = true;
      const lines = head.split('\r\n').filter((l, i) => i === 0 || !/^(transfer-encoding|content-length|connection):/i.test(l));
      lines.push('Connection: close');
      return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), this.#head.subarray(end + 4)]);
    }
  }

  get started(): boolean {
    return this.#started;
  }
}
