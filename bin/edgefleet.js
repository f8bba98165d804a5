#!/usr/bin/env node
// The edgefleet CLI. In a checkout (cli/main.ts beside this folder) it runs the TypeScript sources
// through tsx, so a fresh clone needs no build step; the installed package ships only the compiled
// dist/ and runs that, with no tsx. Either way this is the one node process: no child to outlive
// a signal.
import { existsSync } from 'node:fs';

// Before anything slow (tsx compiling the sources): a hub whose launcher dies first must see it.
const parentPid = process.ppid;

const source = new URL('../cli/main.ts', import.meta.url);
let main;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import('../dist/cli/main.js'));
}
process.exitCode = await main(process.argv.slice(2), { parentPid });
