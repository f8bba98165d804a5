import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The URL that answered (after redirects). */
  url: string;
}

export interface SendOptions {
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
  /** Aborts the request (per-request timeout and the caller's deadline, combined). */
  signal: AbortSignal;
  /** A body larger than this is an error, not read into memory. */
  maxBytes: number;
}

/** Why a request did not get an answer: connection refused, TLS, timeout, too large. */
export class HttpTransportError extends Error {
  override name = 'HttpTransportError';
}

/** One connection pool per registry: its CA and its TLS policy, kept alive between requests. */
export class Agents {
  readonly http = new HttpAgent({ keepAlive: true, maxSockets: 16 });
  readonly https: HttpsAgent;
  constructor(tls: { ca?: Buffer; rejectUnauthorized: boolean }) {
    // A custom CA is added to Node's bundled roots, not put in their place.
    const ca = tls.ca ? [...rootCertificates, tls.ca.toString('utf8')] : undefined;
    this.https = new HttpsAgent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: tls.rejectUnauthorized, ...(ca ? { ca } : {}) });
  }
  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

/** One request, no redirects followed (the caller decides what a redirect may carry). */
export function send(url: URL, o: SendOptions, agents: Agents): Promise<HttpResponse> {
  const isHttps = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    if (o.signal.aborted) return reject(abortError(o.signal));
    const req = (isHttps ? httpsRequest : httpRequest)(url, { method: o.method, headers: o.headers, agent: isHttps ? agents.https : agents.http, signal: o.signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const declared = Number(res.headers['content-length']);
      if (o.method !== 'HEAD' && Number.isFinite(declared) && declared > o.maxBytes) {
        res.destroy();
        return reject(new HttpTransportError(`${o.method} ${redact(url)}: response of ${declared} bytes is larger than the ${o.maxBytes} allowed`));
      }
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > o.maxBytes) {
          res.destroy();
          reject(new HttpTransportError(`${o.method} ${redact(url)}: response larger than the ${o.maxBytes} bytes allowed`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), url: url.href }));
      res.on('error', (e) => reject(transportError(url, o, e)));
    });
    req.on('error', (e) => reject(transportError(url, o, e)));
    req.end();
  });
}

const redact = (u: URL) => `${u.protocol}//${u.host}${u.pathname}`;

function abortError(signal: AbortSignal): HttpTransportError {
  const reason = signal.reason as Error | undefined;
  return new HttpTransportError(reason?.name === 'TimeoutError' ? 'timed out' : (reason?.message ?? 'aborted'));
}

function transportError(url: URL, o: SendOptions, e: Error): HttpTransportError {
  if (o.signal.aborted) {
    const err = abortError(o.signal);
    err.message = `${o.method} ${redact(url)}: ${err.message}`;
    return err;
  }
  const code = (e as NodeJS.ErrnoException).code;
  return new HttpTransportError(`${o.method} ${redact(url)}: ${code ? `${code}: ` : ''}${e.message}`, { cause: e });
}
