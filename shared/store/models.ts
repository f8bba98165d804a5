import type { ModelImage, ModelPlatform } from '../domain/model.js';
import type { Db } from './db.js';

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
export function storedTags(db: Db, registry: string): Map<string, StoredTag> {
  const rows = db.prepare('SELECT repository, tag, digest, error, removed_unix_seconds FROM models WHERE registry = ?').all(registry) as Record<string, unknown>[];
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

export function saveRepositorySync(db: Db, registry: string, s: RepositorySync, now: number): { removed: string[] } {
  const upsert = db.prepare(
    `INSERT INTO models (registry, repository, tag, digest, media_type, platforms, size_bytes, created_unix_seconds, title, description, version,
       task, framework, input, output, labels_json, first_seen_unix_seconds, last_seen_unix_seconds, updated_unix_seconds)
     VALUES (@registry, @repository, @tag, @digest, @mediaType, @platforms, @sizeBytes, @created, @title, @description, @version,
       @task, @framework, @input, @output, @labels, @now, @now, @now)
     ON CONFLICT (registry, repository, tag) DO UPDATE SET
       updated_unix_seconds = CASE WHEN models.digest IS excluded.digest THEN models.updated_unix_seconds ELSE @now END,
       digest = excluded.digest, media_type = excluded.media_type, platforms = excluded.platforms, size_bytes = excluded.size_bytes,
       created_unix_seconds = excluded.created_unix_seconds, title = excluded.title, description = excluded.description, version = excluded.version,
       task = excluded.task, framework = excluded.framework, input = excluded.input, output = excluded.output, labels_json = excluded.labels_json,
       last_seen_unix_seconds = @now, removed_unix_seconds = NULL, error = NULL, error_unix_seconds = NULL`,
  );
  const idOf = db.prepare('SELECT id FROM models WHERE registry = ? AND repository = ? AND tag = ?').pluck();
  const clearPlatforms = db.prepare('DELETE FROM model_platforms WHERE model_id = ?');
  const addPlatform = db.prepare('INSERT INTO model_platforms (model_id, platform, os, architecture, variant, digest, size_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const touch = db.prepare('UPDATE models SET last_seen_unix_seconds = ?, removed_unix_seconds = NULL WHERE registry = ? AND repository = ? AND tag = ?');
  const fail = db.prepare(
    `INSERT INTO models (registry, repository, tag, first_seen_unix_seconds, last_seen_unix_seconds, updated_unix_seconds, error, error_unix_seconds)
     VALUES (@registry, @repository, @tag, @now, @now, @now, @error, @now)
     ON CONFLICT (registry, repository, tag) DO UPDATE SET last_seen_unix_seconds = @now, removed_unix_seconds = NULL, error = @error, error_unix_seconds = @now`,
  );
  const live = db.prepare('SELECT tag FROM models WHERE registry = ? AND repository = ? AND removed_unix_seconds IS NULL').pluck();
  const remove = db.prepare('UPDATE models SET removed_unix_seconds = ? WHERE registry = ? AND repository = ? AND tag = ?');

  const removed: string[] = [];
  db.transaction(() => {
    for (const m of s.images) {
      upsert.run({
        registry,
        repository: m.repository,
        tag: m.tag,
        digest: m.digest,
        mediaType: m.mediaType,
        platforms: m.platforms.map((p) => p.platform).join(', '),
        sizeBytes: m.sizeBytes,
        created: m.createdUnixSeconds ?? null,
        title: m.title ?? null,
        description: m.description ?? null,
        version: m.version ?? null,
        task: m.task ?? null,
        framework: m.framework ?? null,
        input: m.input ?? null,
        output: m.output ?? null,
        labels: JSON.stringify(m.labels),
        now,
      });
      const id = idOf.get(registry, m.repository, m.tag) as number;
      clearPlatforms.run(id);
      for (const p of m.platforms) addPlatform.run(id, p.platform, p.os, p.architecture, p.variant ?? null, p.digest, p.sizeBytes);
    }
    for (const tag of s.unchanged) touch.run(now, registry, s.repository, tag);
    for (const [tag, error] of s.errors) fail.run({ registry, repository: s.repository, tag, error: error.slice(0, 1000), now });
    if (s.tagsComplete) {
      const present = new Set(s.tags);
      for (const tag of live.all(registry, s.repository) as string[]) {
        if (present.has(tag)) continue;
        remove.run(now, registry, s.repository, tag);
        removed.push(tag);
      }
    }
  }).immediate();
  return { removed };
}

/** Repositories gone from a complete catalog: every live tag of theirs is marked removed. */
export function markRepositoriesRemoved(db: Db, registry: string, present: readonly string[], now: number): string[] {
  const keep = new Set(present);
  const gone = (db.prepare('SELECT DISTINCT repository FROM models WHERE registry = ? AND removed_unix_seconds IS NULL').pluck().all(registry) as string[]).filter((r) => !keep.has(r));
  const stmt = db.prepare('UPDATE models SET removed_unix_seconds = ? WHERE registry = ? AND repository = ? AND removed_unix_seconds IS NULL');
  db.transaction(() => {
    for (const r of gone) stmt.run(now, registry, r);
  }).immediate();
  return gone;
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

export function registrySyncStates(db: Db): RegistrySyncState[] {
  return (db.prepare('SELECT * FROM model_registries ORDER BY name').all() as Record<string, unknown>[]).map((r) => ({
    name: r.name as string,
    url: r.url as string,
    lastAttemptUnixSeconds: r.last_attempt_unix_seconds as number | null,
    lastSyncUnixSeconds: r.last_sync_unix_seconds as number | null,
    lastError: r.last_error as string | null,
    lastErrorUnixSeconds: r.last_error_unix_seconds as number | null,
  }));
}

/** A sync of the registry started (collectAll's throttle reads it). */
export function recordRegistryAttempt(db: Db, name: string, url: string, now: number): void {
  db.prepare(
    `INSERT INTO model_registries (name, url, last_attempt_unix_seconds) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET url = excluded.url, last_attempt_unix_seconds = excluded.last_attempt_unix_seconds`,
  ).run(name, url, now);
}

/** How it ended: complete (the whole catalog read), or the error (never a credential). */
export function recordRegistryResult(db: Db, name: string, result: { complete: boolean; error?: string }, now: number): void {
  if (result.error !== undefined) {
    db.prepare('UPDATE model_registries SET last_error = ?, last_error_unix_seconds = ? WHERE name = ?').run(result.error.slice(0, 1000), now, name);
  } else if (result.complete) {
    db.prepare('UPDATE model_registries SET last_sync_unix_seconds = ?, last_error = NULL WHERE name = ?').run(now, name);
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

export function listModels(db: Db, f: ModelFilter = {}): ModelRow[] {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (!f.includeRemoved) where.push('m.removed_unix_seconds IS NULL');
  for (const k of ['registry', 'repository', 'tag', 'task'] as const) {
    if (f[k] === undefined) continue;
    where.push(`m.${k} = @${k}`);
    params[k] = f[k];
  }
  if (f.platform !== undefined) {
    where.push("m.id IN (SELECT model_id FROM model_platforms WHERE platform = @platform OR platform LIKE @platformPrefix ESCAPE '\\')");
    params.platform = f.platform;
    params.platformPrefix = f.platform.replace(/[\\%_]/g, '\\$&') + '/%';
  }
  const rows = db
    .prepare(
      `SELECT m.*, dt.description AS tag_text, dt.updated_unix_seconds AS tag_text_at, dr.description AS repo_text, dr.updated_unix_seconds AS repo_text_at
       FROM models m
       LEFT JOIN model_descriptions dt ON dt.registry = m.registry AND dt.repository = m.repository AND dt.tag = m.tag
       LEFT JOIN model_descriptions dr ON dr.registry = m.registry AND dr.repository = m.repository AND dr.tag = ''
       ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
       ORDER BY m.repository, m.tag, m.registry`,
    )
    .all(params) as Record<string, unknown>[];
  const platforms = db.prepare('SELECT platform, os, architecture, variant, digest, size_bytes FROM model_platforms WHERE model_id = ? ORDER BY platform');
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
      platforms: (platforms.all(r.id) as Record<string, unknown>[]).map((p) => ({
        platform: p.platform as string,
        os: p.os as string,
        architecture: p.architecture as string,
        ...(p.variant ? { variant: p.variant as string } : {}),
        digest: p.digest as string,
        sizeBytes: p.size_bytes as number,
      })),
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
export function modelRegistries(db: Db, repository: string, tag?: string): string[] {
  return db
    .prepare(`SELECT DISTINCT registry FROM models WHERE repository = ? ${tag === undefined ? '' : 'AND tag = ?'} ORDER BY registry`)
    .pluck()
    .all(...(tag === undefined ? [repository] : [repository, tag])) as string[];
}

/** Longest description a person may write. */
export const MAX_DESCRIPTION_CHARS = 4000;

/**
 * A person's description of a tag (or, with tag undefined, of every tag of the repository),
 * kept apart from the image's label; null or '' removes it.
 */
export function setModelDescription(db: Db, registry: string, repository: string, tag: string | undefined, text: string | null, now: number): void {
  const t = text?.trim() ?? '';
  if (t === '') {
    db.prepare('DELETE FROM model_descriptions WHERE registry = ? AND repository = ? AND tag = ?').run(registry, repository, tag ?? '');
    return;
  }
  db.prepare(
    `INSERT INTO model_descriptions (registry, repository, tag, description, updated_unix_seconds) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (registry, repository, tag) DO UPDATE SET description = excluded.description, updated_unix_seconds = excluded.updated_unix_seconds`,
  ).run(registry, repository, tag ?? '', t.slice(0, MAX_DESCRIPTION_CHARS), now);
}
