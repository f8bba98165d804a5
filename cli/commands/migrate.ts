import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../../shared/config/config.js';
import { resolveSsmSecrets } from '../../shared/config/ssmSecrets.js';
import { openDb } from '../../shared/store/db.js';
import { isPostgresUrl, redactUrl } from '../../shared/store/pgUrl.js';
import { UsageError, type Command } from '../command.js';

/**
 * `edgefleet migrate --from FILE --to URL`: copy a SQLite store into PostgreSQL, history included
 * (shared/store/copyToPg.ts). Resumable and idempotent: run it again after an interruption and it
 * goes on where it stopped; run it after it finished and it copies nothing.
 */
export const migrate: Command = {
  name: 'migrate',
  summary: 'copy a SQLite database into PostgreSQL (history included; resumable, idempotent)',
  flags: [
    { name: 'from', type: 'string', value: 'FILE', help: 'the SQLite database (default: db)' },
    { name: 'to', type: 'string', value: 'URL', help: 'postgres://user@host:5432/db (default: store.url)' },
  ],
  examples: ['edgefleet migrate --from data/edgefleet.db --to postgres://edgefleet@db.lab:5432/edgefleet'],
  async run(o) {
    const config = await resolveSsmSecrets(loadConfig());
    const from = typeof o.from === 'string' ? resolve(o.from) : config.db;
    const to = typeof o.to === 'string' ? o.to : config.store.url;
    if (!to || !isPostgresUrl(to)) throw new UsageError(`--to: expected a postgres://user@host:5432/database URL${to ? '' : ' (or store.url in the configuration)'}`);
    if (isPostgresUrl(from) || !existsSync(from)) throw new UsageError(`--from: ${from} is not a SQLite database file`);
    const src = openDb(from);
    const { openPg } = await import('../../shared/store/pg.js');
    const { copySqliteToPg } = await import('../../shared/store/copyToPg.js');
    const dst = await openPg(to, { password: config.store.password || undefined, statementTimeoutMs: config.store.statementTimeoutMs });
    try {
      let shown = '';
      const summary = await copySqliteToPg(src, dst, {
        source: from,
        onProgress: (p) => {
          const line = `${p.table}: ${p.copied}/${p.total} rows`;
          if (line !== shown) process.stderr.write(`migrate ${line}\n`);
          shown = line;
        },
      });
      for (const t of summary.tables) process.stdout.write(`${t.table.padEnd(24)} ${String(t.rows).padStart(10)} rows copied${t.skipped ? ` (${t.skipped} already there)` : ''}\n`);
      process.stdout.write(`${from} → ${redactUrl(to)}: ${summary.tables.reduce((n, t) => n + t.rows, 0)} rows in ${summary.durationMs} ms\n`);
      return 0;
    } finally {
      src.close();
      await dst.close();
    }
  },
};
