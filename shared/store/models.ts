/**
 * The model catalog (tables models, model_platforms, model_descriptions, model_registries), on
 * the SQL port (sql.ts): the same statements on SQLite and PostgreSQL. Each repository's sync is
 * one transaction, written after its registry requests are done (no I/O inside it).
 */
import type { ModelImage, ModelPlatform } from '../domain/model.js';
import { placeholders } from './sql.js';
import { asSql, type SqlOrDb } from './sqliteSql.js';

/** A row of the catalog, as the API and the CLI show it. */
export interface ModelRow {
  registry: string;
  repository: string;
  tag: string;
  /** The tag's manifest digest; null while it could never be read. */
  digest: string | null;
  mediaType: string | null;
  platforms: ModelPlatform[];
  /** The largest platform's layers + config, bytes. */
  sizeBytes: number | null;
  createdUnixSeconds: number | null;
  title: string | null;
  /** What to show: the person's description when there is one, else the image's label. */
  description: string | null;
  /** The image's own `org.opencontainers.image.description`. */
  labelDescription: string | null;
  /** Written by a person (`edgefleet models describe NAME:TAG --set TEXT`), for this tag or the whole repository. */
  personDescription: { text: string; tag: string | null; updatedUnixSeconds: number } | null;
  version: string | null;
  task: string | null;
  framework: string | null;
  input: string | null;
  output: string | null;
  labels: Record<string, string>;
  firstSeenUnixSeconds: number;
  lastSeenUnixSeconds: number;
  /** When the tag last pointed at a new digest. */
  updatedUnixSeconds: number;
  removedUnixSeconds: number | null;
  /** Why the tag could not be read at its last sync (its last good data is kept). */
  error: string | null;
  errorUnixSeconds: number | null;
}

/** What the catalog holds of a registry's tag: enough to skip reading an unchanged one. */
export interface StoredTag {
  digest: string | null;
  error: string | null;
  removed: boolean;
}

/** `repository\0tag` → what is stored, for one registry. */
export async function storedTags(db: SqlOrDb, registry: string): Promise<Map<string, StoredTag>> {
  const rows = await asSql(db).all<Record<string, unknown>>('SELECT repository, tag, digest, error, removed_unix_seconds FROM models WHERE registry = ?', [registry]);
  return new Map(rows.map((r) => [`${r.repository}\0${r.tag}`, { digest: r.digest as string | null, error: r.error as string | null, removed: r.removed_unix_seconds !== null }]));
}

/** How one repository's sync went, to be written in one transaction. */
export interface RepositorySync {
  repository: string;
  /** Tags read now. */
  images: ModelImage[];
  /** Tags whose digest has not changed since the stored read: seen, nothing else to write. */
  unchanged: string[];
  /** Tags that could not be read: tag → why. */
  errors: Map<string, string>;
  /** The whole tag list was read: tags stored but absent from it are marked removed. */
  tagsComplete: boolean;
  /** Every tag the registry lists (when tagsComplete). */
  tags: string[];
}

const UPSERT_MODEL = `INSERT INTO models (registry, repository, tag, digest, media_type, platforms, size_bytes, created_unix_seconds, title, description, version,
    task, framework, input, output, labels_json, first_seen_unix_seconds, last_seen_unix_seconds, updated_unix_seconds)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (registry, repository, tag) DO UPDATE SET
    updated_unix_seconds = CASE WHEN models.digest IS NOT DISTINCT FROM excluded.digest THEN models.updated_unix_seconds ELSE excluded.updated_unix_seconds END,
    digest = excluded.digest, media_type = excluded.media_type, platforms = excluded.platforms, size_bytes = excluded.size_bytes,
    created_unix_seconds = excluded.created_unix_seconds, title = excluded.title, description = excluded.description, version = excluded.version,
    task = excluded.task, framework = excluded.framework, input = excluded.input, output = excluded.output, labels_json = excluded.labels_json,
    last_seen_unix_seconds = excluded.last_seen_unix_seconds, removed_unix_seconds = NULL, error = NULL, error_unix_seconds = NULL
  RETURNING id`;

const FAIL_MODEL = `INSERT INTO models (registry, repository, tag, first_seen_unix_seconds, last_seen_unix_seconds, updated_unix_seconds, error, error_unix_seconds)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (registry, repository, tag) DO UPDATE SET last_seen_unix_seconds = excluded.last_seen_unix_seconds, removed_unix_seconds = NULL,
    error = excluded.error, error_unix_seconds = excluded.error_unix_seconds`;

/** One repository's sync in one transaction; the tags marked removed. */
export async function saveRepositorySync(db: SqlOrDb, registry: string, s: RepositorySync, now: number): Promise<{ removed: string[] }> {
  return asSql(db).tx(async (sql) => {
    const removed: string[] = [];
    for (const m of s.images) {
      const row = await sql.get<{ id: number }>(UPSERT_MODEL, [
        registry, m.repository, m.tag, m.digest, m.mediaType, m.platforms.map((p) => p.platform).join(', '), m.sizeBytes, m.createdUnixSeconds ?? null,
        m.title ?? null, m.description ?? null, m.version ?? null, m.task ?? null, m.framework ?? null, m.input ?? null, m.output ?? null,
        JSON.stringify(m.labels), now, now, now,
      ]);
      // Upserted, and only the platforms gone deleted: two hubs syncing one repository at once
      // (a person's `models sync` beside the schedule) never collide on a platform's key.
      const id = row!.id;
      if (m.platforms.length) {
        await sql.run(`DELETE FROM model_platforms WHERE model_id = ? AND platform NOT IN (${placeholders(m.platforms.length)})`, [id, ...m.platforms.map((p) => p.platform)]);
      } else await sql.run('DELETE FROM model_platforms WHERE model_id = ?', [id]);
      for (const p of m.platforms) {
        await sql.run(
          `INSERT INTO model_platforms (model_id, platform, os, architecture, variant, digest, size_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (model_id, platform) DO UPDATE SET os = excluded.os, architecture = excluded.architecture, variant = excluded.variant,
             digest = excluded.digest, size_bytes = excluded.size_bytes`,
          [id, p.platform, p.os, p.architecture, p.variant ?? null, p.digest, p.sizeBytes],
        );
      }
    }
    for (const tag of s.unchanged) {
      await sql.run('UPDATE models SET last_seen_unix_seconds = ?, removed_unix_seconds = NULL WHERE registry = ? AND repository = ? AND tag = ?', [now, registry, s.repository, tag]);
    }
    for (const [tag, error] of s.errors) await sql.run(FAIL_MODEL, [registry, s.repository, tag, now, now, now, error.slice(0, 1000), now]);
    if (s.tagsComplete) {
      const present = new Set(s.tags);
      const live = await sql.all<{ tag: string }>('SELECT tag FROM models WHERE registry = ? AND repository = ? AND removed_unix_seconds IS NULL ORDER BY tag', [registry, s.repository]);
      for (const { tag } of live) {
        if (present.has(tag)) continue;
        await sql.run('UPDATE models SET removed_unix_seconds = ? WHERE registry = ? AND repository = ? AND tag = ?', [now, registry, s.repository, tag]);
        removed.push(tag);
      }
    }
    return { removed };
  });
}

/** Repositories gone from a complete catalog: every live tag of theirs is marked removed. */
export async function markRepositoriesRemoved(db: SqlOrDb, registry: string, present: readonly string[], now: number): Promise<string[]> {
  const keep = new Set(present);
  return asSql(db).tx(async (sql) => {
    const live = await sql.all<{ repository: string }>('SELECT DISTINCT repository FROM models WHERE registry = ? AND removed_unix_seconds IS NULL ORDER BY repository', [registry]);
    const gone = live.map((r) => r.repository).filter((r) => !keep.has(r));
    for (const r of gone) await sql.run('UPDATE models SET removed_unix_seconds = ? WHERE registry = ? AND repository = ? AND removed_unix_seconds IS NULL', [now, registry, r]);
    return gone;
  });
}

export interface RegistrySyncState {
  name: string;
  url: string;
  lastAttemptUnixSeconds: number | null;
  /** The last sync that read the whole catalog. */
  lastSyncUnixSeconds: number | null;
  lastError: string | null;
  lastErrorUnixSeconds: number | null;
}

export async function registrySyncStates(db: SqlOrDb): Promise<RegistrySyncState[]> {
  return (await asSql(db).all<Record<string, unknown>>('SELECT * FROM model_registries ORDER BY name')).map((r) => ({
    name: r.name as string,
    url: r.url as string,
    lastAttemptUnixSeconds: r.last_attempt_unix_seconds as number | null,
    lastSyncUnixSeconds: r.last_sync_unix_seconds as number | null,
    lastError: r.last_error as string | null,
    lastErrorUnixSeconds: r.last_error_unix_seconds as number | null,
  }));
}

/** A sync of the registry started (collectAll's throttle reads it). */
export async function recordRegistryAttempt(db: SqlOrDb, name: string, url: string, now: number): Promise<void> {
  await asSql(db).run(
    `INSERT INTO model_registries (name, url, last_attempt_unix_seconds) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET url = excluded.url, last_attempt_unix_seconds = excluded.last_attempt_unix_seconds`,
    [name, url, now],
  );
}

/** How it ended: complete (the whole catalog read), or the error (never a credential). */
export async function recordRegistryResult(db: SqlOrDb, name: string, result: { complete: boolean; error?: string }, now: number): Promise<void> {
  if (result.error !== undefined) {
    await asSql(db).run('UPDATE model_registries SET last_error = ?, last_error_unix_seconds = ? WHERE name = ?', [result.error.slice(0, 1000), now, name]);
  } else if (result.complete) {
    await asSql(db).run('UPDATE model_registries SET last_sync_unix_seconds = ?, last_error = NULL WHERE name = ?', [now, name]);
  }
}

export interface ModelFilter {
  registry?: string;
  repository?: string;
  tag?: string;
  /** Only models with this platform (`linux/arm64`; `linux/arm64` also matches `linux/arm64/v8`). */
  platform?: string;
  task?: string;
  includeRemoved?: boolean;
}

/** Platform rows are read for this many models per statement. */
const PLATFORM_BATCH = 500;

export async function listModels(db: SqlOrDb, f: ModelFilter = {}): Promise<ModelRow[]> {
  const sql = asSql(db);
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (!f.includeRemoved) where.push('m.removed_unix_seconds IS NULL');
  for (const k of ['registry', 'repository', 'tag', 'task'] as const) {
    if (f[k] === undefined) continue;
    where.push(`m.${k} = ?`);
    params.push(f[k]);
  }
  if (f.platform !== undefined) {
    // `linux/arm64` also matches `linux/arm64/v8`: a prefix compared exactly (LIKE's case rules differ between the two databases).
    const prefix = `${f.platform}/`;
    where.push('m.id IN (SELECT model_id FROM model_platforms WHERE platform = ? OR substr(platform, 1, ?) = ?)');
    params.push(f.platform, prefix.length, prefix);
  }
  const rows = await sql.all<Record<string, unknown>>(
    `SELECT m.*, dt.description AS tag_text, dt.updated_unix_seconds AS tag_text_at, dr.description AS repo_text, dr.updated_unix_seconds AS repo_text_at
     FROM models m
     LEFT JOIN model_descriptions dt ON dt.registry = m.registry AND dt.repository = m.repository AND dt.tag = m.tag
     LEFT JOIN model_descriptions dr ON dr.registry = m.registry AND dr.repository = m.repository AND dr.tag = ''
     ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
     ORDER BY m.repository, m.tag, m.registry`,
    params,
  );
  const platforms = new Map<number, ModelPlatform[]>();
  for (let i = 0; i < rows.length; i += PLATFORM_BATCH) {
    const ids = rows.slice(i, i + PLATFORM_BATCH).map((r) => r.id as number);
    const ps = await sql.all<Record<string, unknown>>(
      `SELECT model_id, platform, os, architecture, variant, digest, size_bytes FROM model_platforms WHERE model_id IN (${placeholders(ids.length)}) ORDER BY model_id, platform`,
      ids,
    );
    for (const p of ps) {
      const list = platforms.get(p.model_id as number) ?? [];
      list.push({
        platform: p.platform as string,
        os: p.os as string,
        architecture: p.architecture as string,
        ...(p.variant ? { variant: p.variant as string } : {}),
        digest: p.digest as string,
        sizeBytes: p.size_bytes as number,
      });
      platforms.set(p.model_id as number, list);
    }
  }
  return rows.map((r) => {
    const person =
      r.tag_text != null
        ? { text: r.tag_text as string, tag: r.tag as string, updatedUnixSeconds: r.tag_text_at as number }
        : r.repo_text != null
          ? { text: r.repo_text as string, tag: null, updatedUnixSeconds: r.repo_text_at as number }
          : null;
    return {
      registry: r.registry as string,
      repository: r.repository as string,
      tag: r.tag as string,
      digest: r.digest as string | null,
      mediaType: r.media_type as string | null,
      platforms: platforms.get(r.id as number) ?? [],
      sizeBytes: r.size_bytes as number | null,
      createdUnixSeconds: r.created_unix_seconds as number | null,
      title: r.title as string | null,
      description: person?.text ?? (r.description as string | null),
      labelDescription: r.description as string | null,
      personDescription: person,
      version: r.version as string | null,
      task: r.task as string | null,
      framework: r.framework as string | null,
      input: r.input as string | null,
      output: r.output as string | null,
      labels: JSON.parse(r.labels_json as string) as Record<string, string>,
      firstSeenUnixSeconds: r.first_seen_unix_seconds as number,
      lastSeenUnixSeconds: r.last_seen_unix_seconds as number,
      updatedUnixSeconds: r.updated_unix_seconds as number,
      removedUnixSeconds: r.removed_unix_seconds as number | null,
      error: r.error as string | null,
      errorUnixSeconds: r.error_unix_seconds as number | null,
    };
  });
}

/** Registries that hold the repository (and tag), removed tags included. */
export async function modelRegistries(db: SqlOrDb, repository: string, tag?: string): Promise<string[]> {
  const rows = await asSql(db).all<{ registry: string }>(
    `SELECT DISTINCT registry FROM models WHERE repository = ? ${tag === undefined ? '' : 'AND tag = ?'} ORDER BY registry`,
    tag === undefined ? [repository] : [repository, tag],
  );
  return rows.map((r) => r.registry);
}

/** Longest description a person may write. */
export const MAX_DESCRIPTION_CHARS = 4000;

/**
 * A person's description of a tag (or, with tag undefined, of every tag of the repository),
 * kept apart from the image's label; null or '' removes it.
 */
export async function setModelDescription(db: SqlOrDb, registry: string, repository: string, tag: string | undefined, text: string | null, now: number): Promise<void> {
  const t = text?.trim() ?? '';
  if (t === '') {
    await asSql(db).run('DELETE FROM model_descriptions WHERE registry = ? AND repository = ? AND tag = ?', [registry, repository, tag ?? '']);
    return;
  }
  await asSql(db).run(
    `INSERT INTO model_descriptions (registry, repository, tag, description, updated_unix_seconds) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (registry, repository, tag) DO UPDATE SET description = excluded.description, updated_unix_seconds = excluded.updated_unix_seconds`,
    [registry, repository, tag ?? '', t.slice(0, MAX_DESCRIPTION_CHARS), now],
  );
}
