/**
 * HTTP over a bare TCP socket, for requests no HTTP client would send: a request target that is
 * no URL, a body cut off mid-way, bytes that are not HTTP at all.
 */
import { connect } from 'node:net';

export interface RawAnswer {
  /** Everything the server sent before it closed the socket (or before `timeoutMs`). */
  text: string;
  /** The status code of the first response line, or undefined when none came. */
  status?: number;
  /** True when the server closed the socket (rather than the wait running out). */
  closed: boolean;
}

/**
 * Write `bytes` to 127.0.0.1:`port` and collect what comes back. `abort`: destroy the socket
 * right after writing (a client that went away mid-request) and return at once.
 */
export function rawRequest(port: number, bytes: string | Buffer, o: { abort?: boolean; timeoutMs?: number } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ text, status: m ? Number(m[1]) : undefined, closed });
    };
    const timer = setTimeout(() => finish(false), o.timeoutMs ?? 5000);
    sock.on('error', (e) => (done ? undefined : chunks.length ? finish(true) : reject(e)));
    sock.on('data', (b) => chunks.push(b));
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('connect', () => {
      sock.write(bytes, () => {
        if (o.abort) finish(true);
      });
    });
  });
}
