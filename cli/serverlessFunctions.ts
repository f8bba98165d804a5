import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';

/** Compiled (dist/cli/*.js, the installed package) or run from the sources through tsx (a checkout). */
const COMPILED = import.meta.url.endsWith('.js');

/** The package root: where package.json and serverless.yml live (above dist/ when compiled). */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), COMPILED ? '../..' : '..');

export interface FunctionDef {
  name: string;
  /** `dist/functions/collectAll.handler` as serverless.yml says. */
  handler: string;
  schedules: { rateSeconds: number; enabled: boolean; expression: string }[];
  http: { method: string; path: string }[];
}

export interface ServerlessFile {
  functions: FunctionDef[];
  hubIntervalFunctions: string[];
}

const UNIT_SECONDS: Record<string, number> = { second: 1, minute: 60, hour: 3600, day: 86400 };

/** `rate(5 minutes)` → 300. Cron expressions are not run by the hub (AWS only). */
export function rateSeconds(expression: string): number | undefined {
  const m = /^rate\((\d+)\s+(second|minute|hour|day)s?\)$/.exec(expression.trim());
  return m ? Number(m[1]) * UNIT_SECONDS[m[2]!]! : undefined;
}

/** Read serverless.yml: the hub keeps no second list of functions. */
export function readServerless(path = join(PROJECT_ROOT, 'serverless.yml')): ServerlessFile {
  const doc = parseYaml(readFileSync(path, 'utf8')) as {
    functions?: Record<string, { handler: string; events?: Record<string, unknown>[] }>;
    custom?: { edgefleet?: { hubIntervalFunctions?: string[] } };
  };
  const functions: FunctionDef[] = Object.entries(doc.functions ?? {}).map(([name, f]) => {
    const def: FunctionDef = { name, handler: f.handler, schedules: [], http: [] };
    for (const ev of f.events ?? []) {
      if ('schedule' in ev) {
        const s = ev.schedule as string | { rate: string; enabled?: boolean };
        const expression = typeof s === 'string' ? s : s.rate;
        const seconds = rateSeconds(expression);
        if (seconds !== undefined) def.schedules.push({ rateSeconds: seconds, enabled: typeof s === 'string' || s.enabled !== false, expression });
      }
      const http = (ev.httpApi ?? ev.http) as { method: string; path: string } | undefined;
      if (http) def.http.push({ method: http.method.toUpperCase(), path: http.path });
    }
    return def;
  });
  return { functions, hubIntervalFunctions: doc.custom?.edgefleet?.hubIntervalFunctions ?? [] };
}

export type LambdaHandler = (event: unknown, context: object) => Promise<unknown>;

/**
 * Load a function's handler: `dist/functions/x.handler` → export `handler` of dist/functions/x.js
 * when compiled, of functions/x.ts from the sources.
 */
export async function loadHandler(def: FunctionDef): Promise<LambdaHandler> {
  const dot = def.handler.lastIndexOf('.');
  const file = COMPILED ? `${def.handler.slice(0, dot)}.js` : `${def.handler.slice(0, dot).replace(/^dist\//, '')}.ts`;
  const exported = def.handler.slice(dot + 1);
  const mod = (await import(pathToFileURL(join(PROJECT_ROOT, file)).href)) as Record<string, unknown>;
  const fn = mod[exported];
  if (typeof fn !== 'function') throw new Error(`${def.handler}: no exported function "${exported}"`);
  return fn as LambdaHandler;
}
