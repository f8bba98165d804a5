import type { Config } from '../config/config.js';
import type { Logger, ModelImage } from '../domain/index.js';
import { inNamespaces, RegistryClient, RegistryConfigError, RegistryError, registrySettings, displayUrl, type RegistryErrorKind } from '../registry/index.js';
import type { SqlOrDb } from '../store/sqliteSql.js';
import { markRepositoriesRemoved, recordRegistryAttempt, recordRegistryResult, registrySyncStates, saveRepositorySync, storedTags } from '../store/models.js';
import { mapLimit } from './limit.js';

export interface RegistrySyncSummary {
  registry: string;
  /** Scheme, host, port: never credentials. */
  url: string;
  /**
   * `ok`: the whole catalog read; `partial`: the deadline came first (what was read is stored,
   * nothing was marked removed on an unread page); `failed`: the registry could not be listed
   * (nothing stored); `skipped`: synced less than models.syncIntervalSeconds ago.
   */
  status: 'ok' | 'partial' | 'failed' | 'skipped';
  error?: string;
  errorKind?: RegistryErrorKind | 'config';
  repositories: number;
  tags: number;
  /** Tags whose manifests and config were read (new or changed). */
  read: number;
  /** Tags whose digest had not changed: one HEAD request each. */
  unchanged: number;
  /** Tags (or repositories) that could not be read: recorded with the error, the others synced. */
  failed: number;
  /** Tags marked removed. */
  removed: number;
  requests: number;
  tokenRequests: number;
  durationMs: number;
  errors: { repository: string; tag?: string; error: string }[];
}

export interface ModelSyncSummary {
  registries: RegistrySyncSummary[];
  durationMs: number;
}

export interface ModelSyncOptions {
  /** The store's SQL port (`store.sql`), or a SQLite Db. */
  db: SqlOrDb;
  config: Pick<Config, 'models' | 'registries'>;
  log: Logger;
  /** Stop starting new requests (and abort running ones) at this time; what was read is kept. */
  deadlineMs?: number;
  /** collectAll: only registries not attempted within models.syncIntervalSeconds. */
  onlyDue?: boolean;
  nowMs?: () => number;
}

/**
 * Keep the `models` table in step with every configured registry: list the catalog (in the
 * configured namespaces), each repository's tags, and read each new or changed tag's manifest,
 * platforms and config labels. A tag whose digest has not changed costs one HEAD. A repository
 * or tag that cannot be read is recorded with its error and does not stop the others; a
 * registry that cannot be listed (unreachable, wrong password) stores nothing. Tags gone from
 * a complete listing are marked removed.
 */
export async function syncModels(o: ModelSyncOptions): Promise<ModelSyncSummary> {
  const nowMs = o.nowMs ?? Date.now;
  const start = nowMs();
  const states = new Map((await registrySyncStates(o.db)).map((s) => [s.name, s]));
  const registries: RegistrySyncSummary[] = [];
  for (const r of o.config.registries) {
    const state = states.get(r.name);
    const due = !o.onlyDue || state?.lastAttemptUnixSeconds == null || state.lastAttemptUnixSeconds <= Math.floor(nowMs() / 1000) - o.config.models.syncIntervalSeconds;
    if (!due || (o.deadlineMs !== undefined && nowMs() >= o.deadlineMs)) {
      registries.push({ ...empty(r.name, displayUrl(r.url)), status: 'skipped' });
      continue;
    }
    registries.push(await syncRegistry(o, r, nowMs));
  }
  return { registries, durationMs: Math.round(nowMs() - start) };
}

function empty(registry: string, url: string): RegistrySyncSummary {
  return { registry, url, status: 'ok', repositories: 0, tags: 0, read: 0, unchanged: 0, failed: 0, removed: 0, requests: 0, tokenRequests: 0, durationMs: 0, errors: [] };
}

async function syncRegistry(o: ModelSyncOptions, r: Config['registries'][number], nowMs: () => number): Promise<RegistrySyncSummary> {
  const started = nowMs();
  const summary = empty(r.name, displayUrl(r.url));
  let settings;
  try {
    settings = registrySettings(r, { timeoutSeconds: o.config.models.timeoutSeconds, pageSize: o.config.models.pageSize });
  } catch (e) {
    if (!(e instanceof RegistryConfigError)) throw e;
    o.log.warn('registry configuration', { registry: r.name, error: e.message });
    return { ...summary, status: 'failed', error: e.message, errorKind: 'config' };
  }
  summary.url = settings.url;
  const now = () => Math.floor(nowMs() / 1000);
  await recordRegistryAttempt(o.db, settings.name, settings.url, now());
  const signal = o.deadlineMs !== undefined ? AbortSignal.timeout(Math.max(1, o.deadlineMs - nowMs())) : undefined;
  const timeUp = () => signal?.aborted === true;
  const client = new RegistryClient(settings, signal ? { signal } : {});
  try {
    await client.ping();
    const { repositories, invalid } = await client.listRepositories();
    for (const name of invalid) o.log.warn('catalog entry is not a repository name, skipped', { registry: settings.name, entry: name.slice(0, 200) });
    const repos = repositories.filter((n) => inNamespaces(n, settings.namespaces));
    summary.repositories = repos.length;
    const stored = await storedTags(o.db, settings.name);
    let complete = true;

    await mapLimit(repos, Math.max(1, o.config.models.concurrency), async (repository) => {
      if (timeUp()) {
        complete = false;
        return;
      }
      let tags: string[];
      try {
        tags = await client.listTags(repository);
      } catch (e) {
        if (timeUp()) return void (complete = false);
        if (e instanceof RegistryError && e.kind === 'unreachable') throw e;
        summary.failed++;
        summary.errors.push({ repository, error: (e as Error).message });
        o.log.warn('repository not listed', { registry: settings.name, repository, error: (e as Error).message });
        return;
      }
      summary.tags += tags.length;
      const images: ModelImage[] = [];
      const unchanged: string[] = [];
      const errors = new Map<string, string>();
      for (const tag of tags) {
        if (timeUp()) {
          complete = false;
          break;
        }
        try {
          const known = stored.get(`${repository}\0${tag}`);
          if (known?.digest && !known.error && (await client.manifestDigest(repository, tag)) === known.digest) {
            unchanged.push(tag);
            continue;
          }
          images.push(await client.describe(repository, tag));
        } catch (e) {
          if (timeUp()) {
            complete = false;
            break;
          }
          if (e instanceof RegistryError && e.kind === 'unreachable') throw e;
          errors.set(tag, (e as Error).message);
          summary.errors.push({ repository, tag, error: (e as Error).message });
          o.log.warn('model not read', { registry: settings.name, repository, tag, error: (e as Error).message });
        }
      }
      const { removed } = await saveRepositorySync(o.db, settings.name, { repository, images, unchanged, errors, tagsComplete: true, tags }, now());
      summary.read += images.length;
      summary.unchanged += unchanged.length;
      summary.failed += errors.size;
      summary.removed += removed.length;
    });
    if (complete && !timeUp()) {
      const gone = await markRepositoriesRemoved(o.db, settings.name, repos, now());
      summary.removed += gone.length;
    } else {
      summary.status = 'partial';
    }
    await recordRegistryResult(o.db, settings.name, { complete: summary.status === 'ok' }, now());
  } catch (e) {
    const err = e as Error;
    const message = timeUp() && !(e instanceof RegistryError && e.kind === 'auth') ? `${err.message} (the sync's time ran out)` : err.message;
    if (summary.read + summary.unchanged > 0 && timeUp()) {
      summary.status = 'partial';
    } else {
      summary.status = 'failed';
      summary.error = message;
      summary.errorKind = e instanceof RegistryError ? e.kind : 'protocol';
    }
    await recordRegistryResult(o.db, settings.name, { complete: false, error: message }, now());
    o.log.warn('registry sync failed', { registry: settings.name, url: settings.url, error: message });
  } finally {
    client.close();
    summary.requests = client.stats.requests;
    summary.tokenRequests = client.stats.tokenRequests;
    summary.durationMs = Math.round(nowMs() - started);
  }
  o.log.info('registry synced', { registry: settings.name, status: summary.status, repositories: summary.repositories, tags: summary.tags, read: summary.read, unchanged: summary.unchanged, failed: summary.failed, removed: summary.removed, requests: summary.requests, durationMs: summary.durationMs });
  return summary;
}
