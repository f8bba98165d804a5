import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySigV4, type Credentials } from './sigv4.js';
import { TEST_CREDENTIALS } from './ssmServer.js';

/**
 * A local Amazon S3 endpoint for tests, as much of it as SSM's output option needs: GetObject
 * (`GET /BUCKET/KEY`, path-style — the SDK's choice for an IP endpoint) on S3's REST wire
 * protocol — SigV4 checked for service `s3`, the object with Content-Length, ETag and
 * Last-Modified, errors as S3's XML (`NoSuchKey`, `NoSuchBucket`, `SignatureDoesNotMatch`).
 * The local SSM server writes each command's output here as the agent would.
 */
export interface S3Server {
  url: string;
  /** AWS SDK environment that reaches this server (AWS_ENDPOINT_URL_S3). */
  env: Record<string, string>;
  put(bucket: string, key: string, body: Buffer | string): void;
  has(bucket: string): boolean;
  /** Requests, by `METHOD /path`. */
  requests: string[];
  /** Requests refused for a bad signature: a test expects none from edgefleet. */
  rejected: string[];
  close(): Promise<void>;
}

interface StoredObject {
  body: Buffer;
  etag: string;
  lastModified: Date;
}

export async function startS3Server(o: { buckets: string[]; credentials?: Credentials }): Promise<S3Server> {
  const creds = o.credentials ?? TEST_CREDENTIALS;
  const buckets = new Map(o.buckets.map((b) => [b, new Map<string, StoredObject>()]));
  const requests: string[] = [];
  const rejected: string[] = [];

  const xmlError = (res: ServerResponse, status: number, code: string, message: string, extra = '') => {
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${extra}<RequestId>${randomUUID()}</RequestId></Error>`;
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-request-id': randomUUID() });
    res.end(body);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = req.url ?? '/';
    requests.push(`${req.method} ${url.split('?')[0]}`);
    const bad = verifySigV4({ method: req.method ?? '', url, headers: req.headers, body }, creds, 's3');
    if (bad) {
      rejected.push(`${req.method} ${url}: ${bad}`);
      return xmlError(res, 403, 'SignatureDoesNotMatch', bad);
    }
    const [, bucket = '', ...keyParts] = decodeURIComponent(url.split('?')[0]!).split('/');
    const key = keyParts.join('/');
    if (req.method !== 'GET') return xmlError(res, 405, 'MethodNotAllowed', `${req.method} is not served here`);
    const objects = buckets.get(bucket);
    if (!objects) return xmlError(res, 404, 'NoSuchBucket', 'The specified bucket does not exist', `<BucketName>${bucket}</BucketName>`);
    const obj = objects.get(key);
    if (!obj) return xmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.', `<Key>${key}</Key>`);
    res.writeHead(200, {
      'content-type': 'binary/octet-stream',
      'content-length': obj.body.length,
      etag: obj.etag,
      'last-modified': obj.lastModified.toUTCString(),
      'accept-ranges': 'bytes',
      'x-amz-request-id': randomUUID(),
    });
    res.end(obj.body);
  }

  const server = createServer((req, res) => void handle(req, res).catch(() => res.destroy()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    env: { AWS_ENDPOINT_URL_S3: url },
    put(bucket, key, data) {
      const objects = buckets.get(bucket);
      if (!objects) throw new Error(`no bucket ${bucket}`);
      const b = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
      objects.set(key, { body: b, etag: `"${createHash('md5').update(b).digest('hex')}"`, lastModified: new Date() });
    },
    has: (bucket) => buckets.has(bucket),
    requests,
    rejected,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
