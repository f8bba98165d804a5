import { Duplex } from 'node:stream';
import { shellQuote } from './shellQuote.js';
import { MAX_CHUNK_BYTES, parsePoll, pullFolder, pullPollCommand, pullStartCommand, pullStopCommand, pullTag, ResponseFramer } from './ssmPull.js';
import { TransportError } from './transport.js';

/**
 * A unix-socket "connection" on an SSM node, where there is no socket to tunnel: each HTTP
 * request written to it (by dockerode) runs as one `curl --unix-socket` on the node, every
 * argument quoted, the body passed in base64 on stdin; the response comes back whole when the
 * command ends and is handed back as the engine's bytes, with a Content-Length of its own.
 * An image pull is the exception: it runs in the background on the node and follow-up commands
 * bring its (thinned) JSON progress as it is written, so it is reported live (ssmPull.ts).
 */
export type RunBytes = (command: string, timeoutMs: number) => Promise<{ stdout: Buffer; stderr: string; code: number | null }>;

/** Requests the bridge takes, bounded: an engine API body is a container spec, not a file. */
const MAX_REQUEST_BYTES = 256 * 1024;
const PULL_TIMEOUT_MS = 30 * 60_000;
const REQUEST_TIMEOUT_MS = 2 * 60_000;
const FOLLOW_MS = 2000;
/**
 * Header names curl must not be handed: it writes its own (and the body is no longer chunked);
 * and registry credentials, which would be kept in SSM's command history (ListCommands shows
 * every command's parameters): over SSM a pull authenticates with the node's own engine login.
 */
const DROP_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'expect', 'x-registry-auth', 'x-registry-config']);
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export interface PullFollowOptions {
  /** Between two follow-up commands of a pull (default 2 s); none when the last one came back full. */
  followMs?: number;
}

export function httpOverCommand(run: RunBytes, socketPath: string, o: PullFollowOptions = {}): Duplex {
  let buf = Buffer.alloc(0);
  let started = false;
  /** A background pull's folder on the node, while it is there to remove. */
  let folder: string | undefined;
  let gone = false;
  const stop = () => {
    const f = folder;
    folder = undefined;
    if (f) void run(pullStopCommand(f), REQUEST_TIMEOUT_MS).catch(() => undefined);
  };
  const stream = new Duplex({
    read() {},
    destroy(err, cb) {
      // The engine's deadline, or the caller gone: end the pull on the node, not just here.
      gone = true;
      stop();
      cb(err);
    },
    write(chunk: Buffer, _enc, done) {
      if (started) return done();
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > MAX_REQUEST_BYTES) return done(new TransportError('exec', `engine request over ${MAX_REQUEST_BYTES} bytes`));
      let req: ParsedRequest | undefined;
      try {
        req = parseRequest(buf);
      } catch (e) {
        return done(e as Error);
      }
      if (req) {
        started = true;
        void send(req);
      }
      done();
    },
    final(done) {
      done();
    },
  });

  async function follow(req: ParsedRequest): Promise<void> {
    const deadline = Date.now() + PULL_TIMEOUT_MS;
    const framer = new ResponseFramer();
    try {
      const started = await run(pullStartCommand(curlArgs(req, socketPath), req.body, pullTag(), Math.ceil(PULL_TIMEOUT_MS / 1000)), REQUEST_TIMEOUT_MS);
      if (started.code !== 0) throw new TransportError('exec', `cannot start the pull on the node (exit ${started.code}: ${started.stderr.trim().slice(0, 200)})`);
      folder = pullFolder(started.stdout);
      if (gone) return stop();
      let offset = 0;
      for (;;) {
        const r = await run(pullPollCommand(folder, offset), REQUEST_TIMEOUT_MS);
        if (gone) return;
        if (r.code !== 0) throw new TransportError('exec', `the pull’s follow-up failed (exit ${r.code}: ${r.stderr.trim().slice(0, 200)})`);
        const a = parsePoll(r.stdout);
        offset += a.bytes.length;
        const out = framer.push(a.bytes);
        if (out.length) stream.push(out);
        if (a.ended !== undefined) {
          folder = undefined; // the last follow-up removed it
          if (a.ended !== 0) throw new TransportError('unreachable', `cannot reach the container engine at ${socketPath} (curl exit ${a.ended}: ${r.stderr.trim().slice(0, 200)})`);
          if (!framer.started) throw new TransportError('output', 'the engine answered no HTTP response');
          stream.push(null);
          return;
        }
        if (Date.now() >= deadline) throw new TransportError('timeout', `pull: no end after ${PULL_TIMEOUT_MS} ms`);
        if (a.bytes.length < MAX_CHUNK_BYTES) await new Promise((res) => setTimeout(res, o.followMs ?? FOLLOW_MS));
        if (gone) return;
      }
    } catch (e) {
      stop();
      stream.destroy(e as Error);
    }
  }

  async function send(req: ParsedRequest): Promise<void> {
    const pull = req.method === 'POST' && /^\/(v[\d.]+\/)?images\/create\b/.test(req.target);
    if (pull) return follow(req);
    try {
      const r = await run(curlCommand(req, socketPath, pull), pull ? PULL_TIMEOUT_MS : REQUEST_TIMEOUT_MS);
      if (r.code !== 0) throw new TransportError('unreachable', `cannot reach the container engine at ${socketPath} (curl exit ${r.code}: ${r.stderr.trim().slice(0, 200)})`);
      stream.push(reframe(r.stdout));
      stream.push(null);
    } catch (e) {
      stream.destroy(e as Error);
    }
  }
  return stream;
}

interface ParsedRequest {
  method: string;
  target: string;
  headers: [string, string][];
  body: Buffer;
}

/** One whole HTTP/1.1 request from the bytes written so far, or undefined while it is incomplete. */
export function parseRequest(buf: Buffer): ParsedRequest | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [line = '', ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^([A-Z]+) (\/\S*) HTTP\/1\.[01]$/.exec(line);
  if (!m) throw new TransportError('exec', `not an HTTP request: ${JSON.stringify(line.slice(0, 80))}`);
  const headers = lines.map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i).trim(), l.slice(i + 1).trim()] as [string, string];
  });
  const get = (n: string) => headers.find(([k]) => k.toLowerCase() === n)?.[1];
  const rest = buf.subarray(end + 4);
  let body: Buffer;
  if (get('transfer-encoding')?.toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const eol = rest.indexOf('\r\n', at);
      if (eol < 0) return undefined;
      const size = parseInt(rest.subarray(at, eol).toString('latin1'), 16);
      if (Number.isNaN(size)) throw new TransportError('exec', 'bad chunked request body');
      if (size === 0) break;
      if (rest.length < eol + 2 + size + 2) return undefined;
      parts.push(rest.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else {
    const length = Number(get('content-length') ?? 0);
    if (rest.length < length) return undefined;
    body = rest.subarray(0, length);
  }
  return { method: m[1]!, target: m[2]!, headers, body };
}

/** curl's words for one request (unquoted: callers quote each), the body read from stdin. */
function curlArgs(req: ParsedRequest, socketPath: string): string[] {
  const args = ['curl', '-sS', '-i', '-H', 'Expect:', '--unix-socket', socketPath, '-X', req.method];
  for (const [k, v] of req.headers) {
    if (DROP_HEADERS.has(k.toLowerCase())) continue;
    if (!HEADER_NAME.test(k) || /[\r\n]/.test(v)) throw new TransportError('exec', `bad request header ${JSON.stringify(k)}`);
    args.push('-H', `${k}: ${v}`);
  }
  if (req.body.length) args.push('--data-binary', '@-');
  args.push(`http://localhost${req.target}`);
  return args;
}

/** The node's side: curl to the socket, raw response to stdout, curl's exit status kept. */
export function curlCommand(req: ParsedRequest, socketPath: string, pull: boolean): string {
  const curl = curlArgs(req, socketPath).map(shellQuote).join(' ');
  const feed = req.body.length ? `printf '%s' ${shellQuote(req.body.toString('base64'))} | base64 -d | ` : '';
  // A pull's progress, thinned: each 20th Downloading/Extracting line and every other line.
  const show = pull ? `awk '/"status":"(Downloading|Extracting)"/ { if (n++ % 20) next } { print }' "$t"` : `cat "$t"`;
  const call = req.body.length ? `${feed}${curl} > "$t"` : `${curl} < /dev/null > "$t"`;
  return [`t=$(mktemp) || exit 125`, call, 'rc=$?', `[ "$rc" = 0 ] && ${show}`, 'rm -f "$t"', 'exit $rc'].join('\n');
}

/**
 * curl's `-i` output (header blocks, then the decoded body) as one HTTP/1.1 response with a
 * Content-Length: 1xx blocks dropped, Transfer-Encoding and the old length removed.
 */
export function reframe(out: Buffer): Buffer {
  let at = 0;
  for (;;) {
    const end = out.indexOf('\r\n\r\n', at);
    if (end < 0) throw new TransportError('output', 'the engine answered no HTTP response');
    const head = out.subarray(at, end).toString('latin1');
    if (/^HTTP\/\S+ 1\d\d/.test(head)) {
      at = end + 4;
      continue;
    }
    const body = out.subarray(end + 4);
    const lines = head.split('\r\n').filter((l, i) => i === 0 || !/^(transfer-encoding|content-length|connection):/i.test(l));
    lines.push(`Content-Length: ${body.length}`, 'Connection: close');
    return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body]);
  }
}
