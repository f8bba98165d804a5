'use strict';
/**
 * A local serverless plugin: `serverless offline start` (and `invoke local`) run the handlers
 * serverless.yml names under dist/. Without a build they answer every route with "Cannot find
 * module"; so build dist/ first when it is missing or older than a source, or refuse with the fix
 * when there is no TypeScript to build with. (`package` / `deploy` bundle the TypeScript sources
 * with esbuild instead: contrib/serverless-bundle.cjs.)
 */
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const SOURCES = ['shared', 'functions', 'cli'];

function newest(dir, ext) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, ext));
    else if (e.name.endsWith(ext)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

class EdgefleetBuild {
  constructor(serverless) {
    const root = serverless.config.servicePath;
    const build = () => {
      const built = join(root, 'dist', 'functions', 'collectAll.js');
      const sources = Math.max(...SOURCES.map((d) => newest(join(root, d), '.ts')));
      const stale = !existsSync(built) || newest(join(root, 'dist'), '.js') < sources;
      if (!stale) return;
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      if (!existsSync(tsc)) {
        throw new Error(`edgefleet: ${existsSync(built) ? 'dist/ is older than the sources' : 'dist/ is not built'} and TypeScript is not installed here: run \`npm install && npm run build\`, then start again`);
      }
      serverless.cli.log('edgefleet: building dist/ (npm run build) before the handlers are loaded');
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
    };
    this.hooks = {
      'before:offline:start:init': build,
      'before:offline:start': build,
      'before:invoke:local:invoke': build,
    };
  }
}

module.exports = EdgefleetBuild;
