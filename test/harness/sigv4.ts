import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * AWS Signature Version 4 checked the way an AWS service checks it, written from AWS's spec
 * ("Create a signed AWS API request": canonical request → string to sign → HMAC chain), not
 * from the SDK's signer, so a test that signs with the real SDK proves both agree.
 */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignedRequest {
  method: string;
  /** Path and query as received, e.g. `/` or `/?a=b`. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Why a request is refused, or undefined when its signature is good. */
export function verifySigV4(req: SignedRequest, creds: Credentials, service: string, nowMs = Date.now()): string | undefined {
  const auth = header(req.headers, 'authorization');
  if (!auth) return 'missing Authorization header';
  const m = /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth.trim());
  if (!m) return `Authorization is not AWS4-HMAC-SHA256: ${auth.slice(0, 60)}`;
  const [, credential, signedHeadersText, signature] = m as unknown as [string, string, string, string];
  const [keyId, date, region, scopeService, terminator, ...rest] = credential.split('/');
  if (rest.length || terminator !== 'aws4_request' || !date || !region) return `malformed credential scope ${credential}`;
  if (keyId !== creds.accessKeyId) return `unknown access key ${keyId}`;
  if (scopeService !== service) return `credential scope names service ${scopeService}, not ${service}`;
  const amzDate = header(req.headers, 'x-amz-date');
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) return 'missing or malformed X-Amz-Date';
  if (amzDate.slice(0, 8) !== date) return 'X-Amz-Date does not match the credential scope date';
  const signedAt = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  // AWS refuses a signature more than 15 minutes away from its clock (RequestTimeTooSkewed).
  if (Math.abs(nowMs - signedAt) > 15 * 60_000) return 'signature expired (X-Amz-Date more than 15 minutes off)';
  const signedHeaders = signedHeadersText.split(';');
  if (!signedHeaders.includes('host')) return 'host is not a signed header';
  if (creds.sessionToken !== undefined && header(req.headers, 'x-amz-security-token') !== creds.sessionToken) return 'bad security token';

  const [path, query = ''] = req.url.split('?', 2) as [string, string?];
  const canonicalHeaders = signedHeaders.map((h) => {
    const v = header(req.headers, h);
    if (v === undefined) return undefined;
    return `${h}:${v.trim().replace(/\s+/g, ' ')}\n`;
  });
  if (canonicalHeaders.includes(undefined)) return 'a signed header is missing from the request';
  const payloadHash = header(req.headers, 'x-amz-content-sha256') ?? sha256(req.body);
  // S3 alone lets a request leave its payload unsigned (the header says so, and is signed).
  const unsigned = service === 's3' && payloadHash === 'UNSIGNED-PAYLOAD';
  if (!unsigned && payloadHash !== sha256(req.body)) return 'x-amz-content-sha256 does not match the body';
  const canonicalRequest = [req.method, canonicalUri(path), canonicalQuery(query), canonicalHeaders.join(''), signedHeadersText, payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  let key: Buffer = hmac(`AWS4${creds.secretAccessKey}`, date);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const want = createHmac('sha256', key).update(stringToSign).digest();
  const got = Buffer.from(signature, 'hex');
  return want.length === got.length && timingSafeEqual(want, got) ? undefined : 'signature does not match';
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters, uppercase hex. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Non-S3 services encode each path segment of the (normalized) path once more. */
function canonicalUri(path: string): string {
  return path
    .split('/')
    .map((seg) => uriEncode(decodeURIComponent(seg)))
    .join('/') || '/';
}

function canonicalQuery(query: string): string {
  if (!query) return '';
  return query
    .split('&')
    .map((p) => {
      const [k, v = ''] = p.split('=', 2) as [string, string?];
      return [uriEncode(decodeURIComponent(k)), uriEncode(decodeURIComponent(v))] as const;
    })
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}
