/**
 * Debian's real `docker-registry` (distribution 2.8) on a loopback port, for the model catalog
 * tests: a temp storage folder (filesystem driver, deletes enabled), optional htpasswd (bcrypt,
 * `htpasswd -B`), optional token auth (a small token server in this process signing RS256 JWTs
 * with an openssl certificate the registry trusts), optional TLS (an openssl CA and a
 * certificate for 127.0.0.1). Images are pushed through the registry's HTTP API: blobs by
 * monolithic upload, configs with labels, manifests, OCI indexes / Docker manifest lists.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createSign, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface TestRegistryOptions {
  /** `htpasswd`: basic auth (bcrypt); `token`: bearer tokens from a local token server. */
  auth?: 'none' | 'htpasswd' | 'token';
  /** username → password, for htpasswd and the token server. */
  users?: Record<string, string>;
  /** Serve HTTPS with a certificate for 127.0.0.1 signed by a test CA (`caFile`). */
  tls?: boolean;
  /** `expires_in` the token server answers (the JWT itself stays valid 10 minutes). */
  tokenExpiresInSeconds?: number;
}

export interface TokenRequest {
  user: string | null;
  scopes: string[];
  granted: boolean;
}

export interface TestRegistry {
  url: string;
  dir: string;
  storageDir: string;
  /** The CA that signed the registry's certificate (tls only). */
  caFile?: string;
  /** Requests the token server answered (token auth only). */
  tokenRequests: TokenRequest[];
  tokenRealm?: string;
  push: Pusher;
  /** Overwrite a stored blob's bytes on disk, as a broken disk or a bad mirror would. */
  corruptBlob(digest: string, data: string | Buffer): void;
  stderr(): string;
  close(): Promise<void>;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageSpec {
  labels?: Record<string, string>;
  /** One platform: a plain image manifest; several: an index over them. */
  platforms?: Platform[];
  /** Sizes of each platform's layers (random bytes), default [1000, 2500]. */
  layerBytes?: number[];
  /** OCI media types (default) or Docker's (v2 manifest, manifest list). */
  format?: 'oci' | 'docker';
  /** The config's `created` (RFC 3339). */
  created?: string;
  /** Send this as the config blob instead of a JSON config (a broken image). */
  rawConfig?: string;
  /** Add a BuildKit-style attestation entry (`unknown/unknown`) to the index. */
  attestation?: boolean;
}

export interface PushedPlatform {
  platform: string;
  digest: string;
  /** Layers + config, bytes, from the bytes pushed. */
  sizeBytes: number;
}

export interface PushedImage {
  repository: string;
  tag: string;
  digest: string;
  mediaType: string;
  platforms: PushedPlatform[];
}

const MT = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
};

const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA and a server certificate for 127.0.0.1 (and localhost) signed by it. */
export function makeTlsFiles(dir: string): { caFile: string; certFile: string; keyFile: string } {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=edgefleet test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'], dir);
  return { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') };
}

/** A JWT the registry's `auth.token` accepts: RS256, the signing certificate in `x5c`. */
export function signRegistryToken(o: { keyPem: string; certPem: string; issuer: string; service: string; subject: string; access: { type: string; name: string; actions: string[] }[]; lifetimeSeconds?: number }): string {
  const der = new X509Certificate(o.certPem).raw;
  const header = { typ: 'JWT', alg: 'RS256', x5c: [der.toString('base64')] };
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: o.issuer, sub: o.subject, aud: o.service, exp: now + (o.lifetimeSeconds ?? 600), nbf: now - 10, iat: now, jti: randomUUID(), access: o.access };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = createSign('RSA-SHA256').update(signingInput).sign(o.keyPem);
  return `${signingInput}.${b64url(signature)}`;
}

/** `repository:lab/yolo:pull,push` → an access entry (everything asked is granted). */
function accessOf(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter(Boolean) };
}

function checkBasic(header: string | undefined, users: Record<string, string>): string | null {
  const m = /^Basic (.+)$/i.exec(header ?? '');
  if (!m) return null;
  const [user, ...rest] = Buffer.from(m[1]!, 'base64').toString('utf8').split(':');
  return user !== undefined && users[user] !== undefined && users[user] === rest.join(':') ? user : null;
}

export async function startRegistry(o: TestRegistryOptions = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-registry-'));
  const storageDir = join(dir, 'storage');
  const port = await freePort();
  const users = o.users ?? { edgefleet: 'correct horse battery staple' };
  const auth = o.auth ?? 'none';
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
  ];
  let caFile: string | undefined;
  if (o.tls) {
    const t = makeTlsFiles(dir);
    caFile = t.caFile;
    lines.push('  tls:', `    certificate: ${t.certFile}`, `    key: ${t.keyFile}`);
  }
  const tokenRequests: TokenRequest[] = [];
  let tokenServer: Server | undefined;
  let tokenRealm: string | undefined;
  let mint: ((scopes: string[]) => string) | undefined;
  if (auth === 'htpasswd') {
    const file = join(dir, 'htpasswd');
    let first = true;
    for (const [user, password] of Object.entries(users)) {
      // bcrypt (-B), as the registry requires; -b takes the password from the command line.
      execFileSync('htpasswd', [first ? '-Bbc' : '-Bb', file, user, password], { stdio: ['ignore', 'ignore', 'pipe'] });
      first = false;
    }
    lines.push('auth:', '  htpasswd:', '    realm: edgefleet-test', `    path: ${file}`);
  } else if (auth === 'token') {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'token.key', '-out', 'token.pem', '-days', '2', '-subj', '/CN=edgefleet test token signer'], dir);
    const keyPem = readFileSync(join(dir, 'token.key'), 'utf8');
    const certPem = readFileSync(join(dir, 'token.pem'), 'utf8');
    const issuer = 'edgefleet-test-issuer';
    const service = 'edgefleet-test-registry';
    mint = (scopes) => signRegistryToken({ keyPem, certPem, issuer, service, subject: 'harness', access: scopes.map(accessOf).filter((a) => a !== undefined) });
    tokenServer = createHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://token');
      const scopes = url.searchParams.getAll('scope');
      const user = checkBasic(req.headers.authorization, users);
      tokenRequests.push({ user, scopes, granted: user !== null });
      if (url.pathname !== '/token' || user === null || url.searchParams.get('service') !== service) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
        return;
      }
      const token = signRegistryToken({ keyPem, certPem, issuer, service, subject: user, access: scopes.map(accessOf).filter((a) => a !== undefined) });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: o.tokenExpiresInSeconds ?? 300, issued_at: new Date().toISOString() }));
    });
    await new Promise<void>((resolve) => tokenServer!.listen(0, '127.0.0.1', resolve));
    tokenRealm = `http://127.0.0.1:${(tokenServer.address() as { port: number }).port}/token`;
    lines.push('auth:', '  token:', `    realm: ${tokenRealm}`, `    service: ${service}`, `    issuer: ${issuer}`, `    rootcertbundle: ${join(dir, 'token.pem')}`);
  }
  const configFile = join(dir, 'config.yml');
  writeFileSync(configFile, lines.join('\n') + '\n');

  const child: ChildProcess = spawn(REGISTRY_BIN, ['serve', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const url = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const ca = caFile ? readFileSync(caFile) : undefined;

  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    if (tokenServer) {
      tokenServer.closeAllConnections();
      await new Promise((resolve) => tokenServer!.close(resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      await close();
      throw new Error(`docker-registry exited with ${child.exitCode}:\n${stderr}`);
    }
    try {
      await raw('GET', new URL('/v2/', url), {}, undefined, ca);
      break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(`docker-registry did not answer within 10 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const authorization = (scope: string): string | undefined => {
    if (auth === 'htpasswd') {
      const [user, password] = Object.entries(users)[0]!;
      return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
    }
    if (auth === 'token') return 'Bearer ' + mint!([scope, 'registry:catalog:*']);
    return undefined;
  };

  return {
    url,
    dir,
    storageDir,
    ...(caFile ? { caFile } : {}),
    tokenRequests,
    ...(tokenRealm ? { tokenRealm } : {}),
    push: new Pusher(url, authorization, ca),
    corruptBlob(digest: string, data: string | Buffer) {
      const hex = digest.replace(/^sha256:/, '');
      writeFileSync(join(storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data'), data);
    },
    stderr: () => stderr,
    close,
  };
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function raw(method: string, url: URL, headers: Record<string, string>, body?: Buffer, ca?: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, ...(ca ? { ca } : {}), timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Pushes through the registry's HTTP API, as `podman push` would. */
export class Pusher {
  constructor(
    private readonly url: string,
    private readonly authorization: (scope: string) => string | undefined,
    private readonly ca?: Buffer,
  ) {}

  private async call(method: string, path: string, repo: string, headers: Record<string, string> = {}, body?: Buffer): Promise<RawResponse> {
    const auth = this.authorization(`repository:${repo}:pull,push,delete`);
    return raw(method, new URL(path, this.url), { ...headers, ...(auth ? { authorization: auth } : {}) }, body, this.ca);
  }

  async blob(repo: string, data: Buffer): Promise<{ digest: string; size: number }> {
    const digest = sha256(data);
    if ((await this.call('HEAD', `/v2/${repo}/blobs/${digest}`, repo)).status === 200) return { digest, size: data.length };
    const start = await this.call('POST', `/v2/${repo}/blobs/uploads/`, repo);
    if (start.status !== 202) throw new Error(`POST upload ${repo}: HTTP ${start.status} ${start.body}`);
    const location = new URL(String(start.headers.location), this.url);
    location.searchParams.set('digest', digest);
    const put = await this.call('PUT', location.pathname + location.search, repo, { 'content-type': 'application/octet-stream' }, data);
    if (put.status !== 201) throw new Error(`PUT blob ${repo}: HTTP ${put.status} ${put.body}`);
    return { digest, size: data.length };
  }

  async manifest(repo: string, reference: string, mediaType: string, body: Buffer): Promise<string> {
    const res = await this.call('PUT', `/v2/${repo}/manifests/${reference}`, repo, { 'content-type': mediaType }, body);
    if (res.status !== 201) throw new Error(`PUT manifest ${repo}:${reference}: HTTP ${res.status} ${res.body}`);
    return sha256(body);
  }

  async deleteManifest(repo: string, digest: string): Promise<void> {
    const res = await this.call('DELETE', `/v2/${repo}/manifests/${digest}`, repo);
    if (res.status !== 202) throw new Error(`DELETE manifest ${repo}@${digest}: HTTP ${res.status} ${res.body}`);
  }

  /** One image per platform (config with labels, random layers), and an index over them when there are several. */
  async image(repo: string, tag: string, spec: ImageSpec = {}): Promise<PushedImage> {
    const docker = spec.format === 'docker';
    const platforms = spec.platforms ?? [{ os: 'linux', architecture: 'amd64' }];
    const pushed: (PushedPlatform & { mediaType: string; size: number; p: Platform })[] = [];
    for (const p of platforms) {
      const layers = [];
      for (const n of spec.layerBytes ?? [1000, 2500]) layers.push(await this.blob(repo, randomBytes(n)));
      const config = Buffer.from(
        spec.rawConfig ??
          JSON.stringify({
            created: spec.created ?? '2024-05-01T12:00:00Z',
            architecture: p.architecture,
            os: p.os,
            ...(p.variant ? { variant: p.variant } : {}),
            config: { Labels: spec.labels ?? {} },
            rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
            history: [],
          }),
      );
      const c = await this.blob(repo, config);
      const mediaType = docker ? MT.dockerManifest : MT.ociManifest;
      const body = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType,
          config: { mediaType: docker ? MT.dockerConfig : MT.ociConfig, digest: c.digest, size: c.size },
          layers: layers.map((l) => ({ mediaType: docker ? MT.dockerLayer : MT.ociLayer, digest: l.digest, size: l.size })),
        }),
      );
      const digest = platforms.length === 1 ? await this.manifest(repo, tag, mediaType, body) : await this.manifest(repo, sha256(body), mediaType, body);
      pushed.push({ platform: [p.os, p.architecture, p.variant].filter(Boolean).join('/'), digest, sizeBytes: c.size + layers.reduce((s, l) => s + l.size, 0), mediaType, size: body.length, p });
    }
    const result = (digest: string, mediaType: string): PushedImage => ({ repository: repo, tag, digest, mediaType, platforms: pushed.map(({ platform, digest, sizeBytes }) => ({ platform, digest, sizeBytes })) });
    if (platforms.length === 1) return result(pushed[0]!.digest, pushed[0]!.mediaType);
    const entries: Record<string, unknown>[] = pushed.map((x) => ({ mediaType: x.mediaType, digest: x.digest, size: x.size, platform: x.p }));
    if (spec.attestation) {
      const cfg = await this.blob(repo, Buffer.from('{}'));
      const statement = await this.blob(repo, Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1' })));
      const body = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: cfg.digest, size: cfg.size }, layers: [{ mediaType: 'application/vnd.in-toto+json', digest: statement.digest, size: statement.size }] }),
      );
      const digest = await this.manifest(repo, sha256(body), MT.ociManifest, body);
      entries.push({ mediaType: MT.ociManifest, digest, size: body.length, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': pushed[0]!.digest } });
    }
    const indexType = docker ? MT.dockerList : MT.ociIndex;
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: indexType, manifests: entries }));
    return result(await this.manifest(repo, tag, indexType, index), indexType);
  }
}
