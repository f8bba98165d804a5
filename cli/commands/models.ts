import { loadConfig } from '../../shared/config/config.js';
import type { ModelSyncSummary } from '../../shared/collect/models.js';
import { storeFor } from '../../shared/handler/resources.js';
import { parseModelReference } from '../../shared/parse/registry.js';
import { listModels, modelRegistries, setModelDescription, type ModelRow } from '../../shared/store/index.js';
import { invokeByName, JSON_FLAG, str, UsageError, type Command } from '../command.js';
import { bytes, localTime, writeJson, writeJsonOrTable } from '../table.js';
import { truncateToWidth } from '../width.js';

export const models: Command = {
  name: 'models',
  args: '[list|sync|describe]',
  summary: 'the model catalog of the configured registries (list: from the database; sync: read the registries now)',
  description: "describe: one model's tags, platforms, sizes, labels; --set writes a person's description (kept apart from the image's own label; --set '' removes it).",
  flags: [
    { name: 'set', type: 'string', value: 'TEXT', help: 'describe: write this description' },
    { name: 'registry', type: 'string', value: 'R', help: 'only this registry (registries: name)' },
    JSON_FLAG,
  ],
  examples: ['edgefleet models sync', 'edgefleet models describe lab/yolo:v8 --set "Counts people at the gate"'],
  run: (o, args) => modelsCommand(args, o.json === true, str(o.set), str(o.registry)),
};

const REGISTRY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** `edgefleet models [list|sync|describe NAME[:TAG] [--set TEXT]]`. */
async function modelsCommand(args: string[], asJson: boolean, set: string | undefined, registry: string | undefined): Promise<number> {
  const [sub = 'list', name, ...extra] = args;
  if (extra.length) throw new UsageError(`models ${sub}: unexpected ${JSON.stringify(extra.join(' '))}`);
  if (registry !== undefined && !REGISTRY_NAME.test(registry)) throw new UsageError(`--registry must match ${REGISTRY_NAME}`);
  if (set !== undefined && sub !== 'describe') throw new UsageError('--set goes with models describe NAME[:TAG]');
  if (sub === 'sync') return modelsSync(asJson);
  const config = loadConfig();
  const db = (await storeFor(config)).sql;
  if (sub === 'list') {
    if (name !== undefined) throw new UsageError(`models list takes no NAME (models describe ${name})`);
    const models = await listModels(db, registry !== undefined ? { registry } : {});
    writeJsonOrTable(asJson, models, ['MODEL', 'PLATFORMS', 'SIZE', 'CREATED', 'TASK', 'FRAMEWORK', 'DESCRIPTION', 'REGISTRY', 'ERROR'], () =>
      models.map((m) => [`${m.repository}:${m.tag}`, m.platforms.map((p) => p.platform).join(',') || null, bytes(m.sizeBytes), localTime(m.createdUnixSeconds), m.task, m.framework, short(m.description, 60), m.registry, short(m.error, 60)]),
      config.registries.length ? 'no models yet: edgefleet models sync reads the registries' : 'no models: no registries configured (registries: in edgefleet.yaml, or EDGEFLEET_REGISTRY_URL)',
    );
    return 0;
  }
  if (sub !== 'describe') throw new UsageError(`unknown models command "${sub}" (list, sync, describe)`);
  if (!name) throw new UsageError('models describe needs NAME[:TAG]');
  let ref;
  try {
    ref = parseModelReference(name);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const filter = { repository: ref.repository, ...(ref.tag !== undefined ? { tag: ref.tag } : {}), ...(registry !== undefined ? { registry } : {}), includeRemoved: true };
  if ((await listModels(db, filter)).length === 0) throw new UsageError(`no model ${name}${registry ? ` in registry ${registry}` : ''} in the catalog (edgefleet models sync reads the registries)`);
  if (set !== undefined) {
    const registries = registry !== undefined ? [registry] : await modelRegistries(db, ref.repository, ref.tag);
    if (registries.length > 1) throw new UsageError(`${name} is in several registries (${registries.join(', ')}): name one with --registry`);
    await setModelDescription(db, registries[0]!, ref.repository, ref.tag, set, Math.floor(Date.now() / 1000));
  }
  const models = await listModels(db, filter);
  if (asJson) {
    writeJson(models);
    return 0;
  }
  process.stdout.write(models.map(describeModel).join('\n') + '\n');
  return 0;
}

function describeModel(m: ModelRow): string {
  const lines: [string, string | number | null | undefined][] = [
    ['model', `${m.repository}:${m.tag}`],
    ['registry', m.registry],
    ['status', m.removedUnixSeconds !== null ? `removed ${localTime(m.removedUnixSeconds)}` : m.error ? 'error' : 'ok'],
    ['title', m.title],
    ['description', m.description],
    ['  by a person', m.personDescription ? `${m.personDescription.text}${m.personDescription.tag === null ? ' (every tag)' : ''}` : null],
    ['  image label', m.labelDescription],
    ['version', m.version],
    ['task', m.task],
    ['framework', m.framework],
    ['input', m.input],
    ['output', m.output],
    ['created', localTime(m.createdUnixSeconds)],
    ['digest', m.digest],
    ['size', m.sizeBytes !== null ? `${bytes(m.sizeBytes)} (largest platform: layers + config)` : null],
    ...m.platforms.map((p): [string, string] => ['platform', `${p.platform}  ${bytes(p.sizeBytes)}  ${p.digest}`]),
    ['first seen', localTime(m.firstSeenUnixSeconds)],
    ['last seen', localTime(m.lastSeenUnixSeconds)],
    ['error', m.error],
  ];
  const labels = Object.entries(m.labels).map(([k, v]): [string, string] => [`label ${k}`, v]);
  return [...lines, ...labels].filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => `${(k + ':').padEnd(14)} ${v}`).join('\n') + '\n';
}

async function modelsSync(asJson: boolean): Promise<number> {
  const config = loadConfig();
  if (config.registries.length === 0) throw new UsageError('no registries configured: registries: in edgefleet.yaml, or EDGEFLEET_REGISTRY_URL');
  const summary = (await invokeByName('collectModels', {})) as ModelSyncSummary;
  writeJsonOrTable(asJson, summary, ['REGISTRY', 'URL', 'STATUS', 'REPOS', 'TAGS', 'READ', 'UNCHANGED', 'FAILED', 'REMOVED', 'MS'], () =>
    summary.registries.map((r) => [r.registry, r.url, r.status, r.repositories, r.tags, r.read, r.unchanged, r.failed, r.removed, r.durationMs]),
  );
  if (!asJson) {
    for (const r of summary.registries) {
      if (r.error) process.stderr.write(`edgefleet: ${r.error}\n`);
      for (const e of r.errors) process.stderr.write(`edgefleet: ${e.repository}${e.tag ? ':' + e.tag : ''}: ${e.error}\n`);
    }
  }
  const failed = summary.registries.filter((r) => r.status === 'failed');
  if (failed.some((r) => r.errorKind === 'auth' || r.errorKind === 'config')) return 1;
  if (failed.length) return 4;
  if (summary.registries.some((r) => r.failed > 0)) return 2;
  return 0;
}

/** At most `columns` terminal columns (a Korean description is cut between syllables). */
const short = (s: string | null, columns: number) => (s === null ? null : truncateToWidth(s, columns));

