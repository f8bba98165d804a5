#!/usr/bin/env node
/**
 * Packages the reference model as an OCI image with no base image, and pushes it through the
 * registry HTTP API (Docker Registry V2 / OCI distribution): no docker, podman or shell.
 *
 * One layer (tar+gzip) holding:
 *   - the node binary running this script (process.execPath, at the same path) and the shared
 *     libraries it and the onnxruntime binding need, as `ldd` lists them (run with execFile, no
 *     shell), at the paths ldd prints (symlinks resolved into regular files);
 *   - /app: run.js, model.onnx, heldout.json, a package.json, and node_modules with only
 *     onnxruntime-node's JS and its linux/x64 CPU binding, and onnxruntime-common;
 *   - an empty /tmp.
 * The config: Entrypoint [node, /app/run.js], the model labels of docs/models.md (task
 * image-classification, framework onnxruntime, input, output, OCI title/version/created).
 *
 * Usage: node package-image.js --registry http://127.0.0.1:5000 --repository lab/iris --tag v1
 *          [--model-dir DIR (model.onnx + heldout.json; default this folder)] [--insecure]
 *          [--gzip-level 1..9] [--label KEY=VALUE ...] [--env NAME=VALUE ...]
 * Credentials: REGISTRY_USERNAME / REGISTRY_PASSWORD (basic auth), never on the command line.
 * Prints one JSON line: repository, tag, digest, sizes, build and push times.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
// The distribution grammar (what reaches a URL is checked first).
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
};

function parseArgs(argv) {
  const o = { labels: {}, env: {} };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (argv[i + 1] === undefined) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const kv = (s) => {
      const eq = s.indexOf('=');
      if (eq <= 0) throw new Error(`${a}: expected KEY=VALUE, not ${JSON.stringify(s)}`);
      return [s.slice(0, eq), s.slice(eq + 1)];
    };
    if (a === '--registry') o.registry = value();
    else if (a === '--repository') o.repository = value();
    else if (a === '--tag') o.tag = value();
    else if (a === '--model-dir') o.modelDir = value();
    else if (a === '--insecure') o.insecure = true;
    else if (a === '--gzip-level') o.gzipLevel = Number(value());
    else if (a === '--label') {
      const [k, v] = kv(value());
      o.labels[k] = v;
    } else if (a === '--env') {
      const [k, v] = kv(value());
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`--env: ${JSON.stringify(k)} is not a variable name`);
      o.env[k] = v;
    } else throw new Error(`unknown argument ${JSON.stringify(a)}`);
  }
  if (!o.registry) throw new Error('--registry URL is required (http://host:port or https://host:port)');
  const url = new URL(o.registry);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('--registry: http:// or https://');
  if (url.username || url.password) throw new Error('--registry: no credentials in the URL (REGISTRY_USERNAME / REGISTRY_PASSWORD)');
  if (url.protocol === 'http:' && !o.insecure && !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) throw new Error('--registry: plain HTTP to another host needs --insecure');
  o.repository ??= 'lab/iris';
  o.tag ??= 'v1';
  if (!REPOSITORY.test(o.repository) || o.repository.length > 255) throw new Error(`--repository ${JSON.stringify(o.repository)} is not a repository name`);
  if (!TAG.test(o.tag)) throw new Error(`--tag ${JSON.stringify(o.tag)} is not a tag`);
  o.gzipLevel ??= 1;
  if (!Number.isInteger(o.gzipLevel) || o.gzipLevel < 1 || o.gzipLevel > 9) throw new Error('--gzip-level 1..9');
  o.modelDir = resolve(o.modelDir ?? here);
  return o;
}

// ---------------------------------------------------------------------------------------------
// The layer

/** A POSIX ustar archive (paths up to 255 bytes through the prefix field). */
export function tar(entries) {
  const blocks = [];
  for (const e of entries) {
    const h = Buffer.alloc(512);
    let name = e.path;
    let prefix = '';
    if (Buffer.byteLength(name) > 100) {
      // ustar: prefix (≤ 155 bytes) + '/' + name (≤ 100 bytes), split at a slash.
      let split = -1;
      for (let i = name.length - 1; i > 0; i--) if (name[i] === '/' && Buffer.byteLength(name.slice(0, i)) <= 155 && Buffer.byteLength(name.slice(i + 1)) <= 100 && i < name.length - 1) { split = i; break; }
      if (split < 0) throw new Error(`tar: path too long: ${name}`);
      prefix = name.slice(0, split);
      name = name.slice(split + 1);
    }
    const field = (off, len, s) => h.write(s, off, len, 'utf8');
    const octal = (off, len, n) => field(off, len, n.toString(8).padStart(len - 1, '0') + '\0');
    const size = e.data?.length ?? 0;
    field(0, 100, name);
    octal(100, 8, e.mode ?? (e.dir ? 0o755 : 0o644));
    octal(108, 8, 0);
    octal(116, 8, 0);
    octal(124, 12, e.dir ? 0 : size);
    octal(136, 12, 1700000000);
    h.fill(' ', 148, 156);
    field(156, 1, e.dir ? '5' : '0');
    field(257, 6, 'ustar\0');
    field(263, 2, '00');
    field(345, 155, prefix);
    let sum = 0;
    for (const b of h) sum += b;
    field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
    blocks.push(h);
    if (e.data && !e.dir) {
      blocks.push(e.data);
      const pad = (512 - (size % 512)) % 512;
      if (pad) blocks.push(Buffer.alloc(pad));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** The absolute paths of the shared libraries `ldd` says these files need (the loader included). */
export function sharedLibraries(files) {
  const libs = new Set();
  for (const f of files) {
    const out = execFileSync('ldd', [f], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    for (const line of out.split('\n')) {
      const m = /=>\s*(\/\S+)\s+\(0x/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
      if (m && !m[1].startsWith(here) && !m[1].includes('/node_modules/')) libs.add(m[1]);
    }
  }
  return [...libs].sort();
}

function walk(dir, keep = () => true) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...walk(p, keep));
    else if (st.isFile() && keep(p)) out.push(p);
  }
  return out;
}

/** [image path, host file, mode] of everything the image holds. */
export function imageFiles(modelDir) {
  const files = [];
  const node = process.execPath;
  files.push([node, node, 0o755]);
  const ortDir = join(here, 'node_modules', 'onnxruntime-node');
  const commonDir = join(here, 'node_modules', 'onnxruntime-common');
  if (!existsSync(ortDir) || !existsSync(commonDir)) throw new Error('node_modules/onnxruntime-node is missing: run ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci first');
  const binding = join(ortDir, 'bin', 'napi-v6', 'linux', 'x64');
  if (!existsSync(join(binding, 'onnxruntime_binding.node'))) throw new Error(`no linux/x64 binding in ${binding}`);
  for (const lib of sharedLibraries([node, ...walk(binding)])) files.push([lib, realpathSync(lib), 0o755]);
  files.push(['/app/run.js', join(here, 'run.js'), 0o644]);
  files.push(['/app/model.onnx', join(modelDir, 'model.onnx'), 0o644]);
  files.push(['/app/heldout.json', join(modelDir, 'heldout.json'), 0o644]);
  const app = (p) => posix.join('/app', p.slice(here.length).split('/').filter(Boolean).join('/'));
  for (const f of [join(ortDir, 'package.json'), ...walk(join(ortDir, 'dist'), (p) => p.endsWith('.js')), ...walk(binding)]) files.push([app(f), f, f.endsWith('.so.1') || f.endsWith('.node') ? 0o755 : 0o644]);
  for (const f of [join(commonDir, 'package.json'), ...walk(join(commonDir, 'dist'), (p) => p.endsWith('.js') || p.endsWith('package.json'))]) files.push([app(f), f, 0o644]);
  return files;
}

export function buildLayer(modelDir, extra = []) {
  const files = imageFiles(modelDir);
  const dirs = new Set(['tmp']);
  const entries = [];
  for (const [path] of files) {
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  for (const d of [...dirs].sort()) entries.push({ path: d + '/', dir: true, mode: d === 'tmp' ? 0o1777 : 0o755 });
  for (const [path, host, mode] of files) {
    if (lstatSync(host).isSymbolicLink()) throw new Error(`unexpected symlink ${host}`);
    entries.push({ path: path.replace(/^\//, ''), data: readFileSync(host), mode });
  }
  for (const e of extra) entries.push(e);
  entries.push({ path: 'app/package.json', data: Buffer.from(JSON.stringify({ name: 'edgefleet-model-runner', private: true, type: 'module' }) + '\n') });
  return { tar: tar(entries), files: files.length };
}

// ---------------------------------------------------------------------------------------------
// The registry

const sha256 = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function call(base, method, path, { headers = {}, body, insecure } = {}) {
  const url = new URL(path, base);
  const user = process.env.REGISTRY_USERNAME;
  const auth = user ? { authorization: 'Basic ' + Buffer.from(`${user}:${process.env.REGISTRY_PASSWORD ?? ''}`).toString('base64') } : {};
  return new Promise((resolvePromise, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      { method, headers: { ...headers, ...auth, ...(body ? { 'content-length': String(body.length) } : {}) }, timeout: 60_000, ...(url.protocol === 'https:' && insecure ? { rejectUnauthorized: false } : {}) },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8').slice(0, 2000) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: timeout`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function pushBlob(o, data) {
  const digest = sha256(data);
  const head = await call(o.registry, 'HEAD', `/v2/${o.repository}/blobs/${digest}`, o);
  if (head.status === 200) return { digest, size: data.length, existed: true };
  const start = await call(o.registry, 'POST', `/v2/${o.repository}/blobs/uploads/`, o);
  if (start.status !== 202 || !start.headers.location) throw new Error(`POST /v2/${o.repository}/blobs/uploads/: HTTP ${start.status} ${start.body}`);
  const location = new URL(String(start.headers.location), o.registry);
  if (location.origin !== new URL(o.registry).origin) throw new Error(`the registry sent the upload to another server: ${location.origin}`);
  location.searchParams.set('digest', digest);
  const put = await call(o.registry, 'PUT', location.pathname + location.search, { ...o, headers: { 'content-type': 'application/octet-stream' }, body: data });
  if (put.status !== 201) throw new Error(`PUT blob ${digest}: HTTP ${put.status} ${put.body}`);
  return { digest, size: data.length, existed: false };
}

export const MODEL_LABELS = {
  'org.opencontainers.image.title': 'Iris classifier (edgefleet reference model)',
  'org.opencontainers.image.description': 'Multinomial logistic regression on the Iris data set, ONNX (MatMul+Add+Softmax, opset 13) on onnxruntime-node; prints the edgefleet inference protocol',
  'org.opencontainers.image.version': '1.0.0',
  'io.edgefleet.model.task': 'image-classification',
  'io.edgefleet.model.framework': 'onnxruntime',
  'io.edgefleet.model.input': 'float32[N,4] iris sepal/petal length and width (cm)',
  'io.edgefleet.model.output': 'probabilities[N,3] (setosa, versicolor, virginica)',
};

export async function packageImage(o) {
  const t0 = performance.now();
  const layer = buildLayer(o.modelDir);
  const gz = gzipSync(layer.tar, { level: o.gzipLevel });
  const created = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const config = Buffer.from(
    JSON.stringify({
      created,
      architecture: 'amd64',
      os: 'linux',
      config: {
        Entrypoint: [process.execPath, '/app/run.js'],
        Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'MODEL_MODE=single-stream', ...Object.entries(o.env).map(([k, v]) => `${k}=${v}`)],
        WorkingDir: '/app',
        StopSignal: 'SIGTERM',
        Labels: { ...MODEL_LABELS, 'org.opencontainers.image.created': created, ...o.labels },
      },
      rootfs: { type: 'layers', diff_ids: [sha256(layer.tar)] },
      history: [{ created, created_by: 'edgefleet examples/model-runner/package-image.js' }],
    }),
  );
  const t1 = performance.now();
  const v2 = await call(o.registry, 'GET', '/v2/', o);
  if (v2.status !== 200) throw new Error(`GET /v2/: HTTP ${v2.status} (credentials: REGISTRY_USERNAME / REGISTRY_PASSWORD; bearer-token registries are not supported here)`);
  const l = await pushBlob(o, gz);
  const c = await pushBlob(o, config);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.manifest, config: { mediaType: MT.config, digest: c.digest, size: c.size }, layers: [{ mediaType: MT.layer, digest: l.digest, size: l.size }] }));
  const put = await call(o.registry, 'PUT', `/v2/${o.repository}/manifests/${o.tag}`, { ...o, headers: { 'content-type': MT.manifest }, body: manifest });
  if (put.status !== 201) throw new Error(`PUT manifest ${o.repository}:${o.tag}: HTTP ${put.status} ${put.body}`);
  const t2 = performance.now();
  return {
    repository: o.repository,
    tag: o.tag,
    digest: sha256(manifest),
    files: layer.files,
    uncompressedBytes: layer.tar.length,
    sizeBytes: l.size + c.size,
    layerExisted: l.existed,
    buildMs: Math.round(t1 - t0),
    pushMs: Math.round(t2 - t1),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const o = parseArgs(process.argv);
    console.log(JSON.stringify(await packageImage(o)));
  } catch (e) {
    console.error(`package-image: ${e.message ?? e}`);
    process.exit(1);
  }
}
