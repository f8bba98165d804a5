import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { buildInventory, type Inventory } from './build.js';
import { InventoryError, ParseFailure } from './errors.js';
import { parseIni } from './ini.js';
import { InventoryData } from './model.js';
import { varsFilesReader } from './varsFiles.js';
import { parseYaml } from './yaml.js';
import { loadData } from './yamlData.js';

export { InventoryError } from './errors.js';
export type { Inventory, InventoryGroup, InventoryHost } from './build.js';
export { toAnsibleList } from './list.js';
export { expandHostnameRange, detectRange } from './ranges.js';
export { parseIniValue } from './pyliteral.js';

export type InventoryFormat = 'ini' | 'yaml';

export interface ParseOptions {
  format?: InventoryFormat;
  /** Receives the warnings Ansible would print (skipped keys and the like). */
  onWarning?: (message: string) => void;
}

/**
 * A best guess of the format people meant: the yaml plugin only takes .yml/.yaml/.json or
 * extension-less files; among extension-less ones, a file whose content loads as a YAML/JSON
 * mapping is YAML, anything else is INI. Parsing itself tries both, as Ansible does.
 */
export function guessFormat(text: string, file: string): InventoryFormat {
  const ext = extname(file);
  if (YAML_EXTENSIONS.includes(ext)) return 'yaml';
  if (ext) return 'ini';
  try {
    return loadData(text, file) instanceof Map ? 'yaml' : 'ini';
  } catch {
    return 'ini';
  }
}

/** The yaml plugin's yaml_extensions (compared case-sensitively, as Ansible does). */
const YAML_EXTENSIONS = ['.yaml', '.yml', '.json'];

/**
 * Ansible's plugin chain for one file (INVENTORY_ENABLED: … yaml, ini): yaml when it takes the
 * extension, then ini, which takes any file. So a hosts.yml written in INI is read as INI. An
 * explicit format is that plugin alone (ANSIBLE_INVENTORY_ENABLED=ini).
 */
function pluginsFor(file: string, format: InventoryFormat | undefined): InventoryFormat[] {
  if (format) return [format];
  const ext = extname(file);
  return !ext || YAML_EXTENSIONS.includes(ext) ? ['yaml', 'ini'] : ['ini'];
}

function asInventoryError(e: unknown, file: string): InventoryError | undefined {
  if (e instanceof InventoryError) return e;
  if (e instanceof ParseFailure) return new InventoryError(`${file}: ${e.message}`, file, undefined, { cause: e });
  return undefined;
}

/** One file into `data` by the first plugin that accepts it; every plugin's reason when none does. */
function parseFileInto(text: string, file: string, data: InventoryData, opts: ParseOptions): void {
  const failures: { plugin: InventoryFormat; error: InventoryError }[] = [];
  for (const plugin of pluginsFor(file, opts.format)) {
    try {
      if (plugin === 'yaml') parseYaml(text, file, data, opts.onWarning);
      else parseIni(text, file, data);
      return;
    } catch (e) {
      const error = asInventoryError(e, file);
      if (!error) throw e;
      failures.push({ plugin, error });
    }
  }
  if (failures.length === 1) throw failures[0]!.error;
  // Both refused it: the reason of the format it looks like first, then the other's.
  const meant = guessFormat(text, file);
  failures.sort((a, b) => (a.plugin === meant ? -1 : b.plugin === meant ? 1 : 0));
  const [first, second] = failures as [(typeof failures)[0], (typeof failures)[0]];
  const line = first.error.line ?? second.error.line;
  throw new InventoryError(
    `${first.error.message} (read as ${first.plugin.toUpperCase()}; as ${second.plugin.toUpperCase()}, Ansible's other parser: ${second.error.message})`,
    file,
    line,
    { cause: first.error },
  );
}

function parseModel(text: string, file: string, opts: ParseOptions): InventoryData {
  const data = new InventoryData();
  parseFileInto(text, file, data, opts);
  data.reconcile();
  return data;
}

/** Parses inventory text; pure (no group_vars/ or host_vars/). */
export function parseInventory(text: string, file: string, opts: ParseOptions = {}): Inventory {
  return buildInventory(parseModel(text, file, opts), file);
}

/**
 * Names Ansible skips in an inventory directory (inventory/manager.py IGNORED): hidden files,
 * group_vars/, host_vars/, vars_plugins/, and INVENTORY_IGNORE_EXTS, whose default is
 * REJECT_EXTS plus .orig, .ini, .cfg, .retry — so a hosts.ini inside a directory is not read.
 */
const IGNORED_EXTENSIONS = ['.pyc', '.pyo', '.swp', '.bak', '~', '.rpm', '.md', '.txt', '.rst', '.orig', '.ini', '.cfg', '.retry'];
export function ignoredInInventoryDir(name: string): boolean {
  return name.startsWith('.') || ['host_vars', 'group_vars', 'vars_plugins'].includes(name) || IGNORED_EXTENSIONS.some((x) => name.endsWith(x));
}

/** The files of an inventory directory in Ansible's order: sorted by bytes, subdirectories in place. */
function inventoryDirFiles(dir: string): { files: string[]; skipped: string[] } {
  const files: string[] = [];
  const skipped: string[] = [];
  const names = readdirSync(dir).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    const full = join(dir, name);
    if (ignoredInInventoryDir(name)) {
      if (!['host_vars', 'group_vars'].includes(name) && !name.startsWith('.')) skipped.push(full);
      continue;
    }
    if (statSync(full).isDirectory()) {
      const sub = inventoryDirFiles(full);
      files.push(...sub.files);
      skipped.push(...sub.skipped);
    } else files.push(full);
  }
  return { files, skipped };
}

function readInventoryText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new InventoryError(`${path}: cannot read the inventory: ${(e as Error).message}`, path, undefined, { cause: e });
  }
}

/**
 * A directory as the inventory (`-i inventory/`): every file in it as one inventory, as
 * Ansible reads it; a file no parser takes is a warning, as in Ansible, unless none parses.
 */
function loadDirectory(dir: string, opts: ParseOptions): InventoryData {
  const { files, skipped } = inventoryDirFiles(dir);
  const data = new InventoryData();
  const failures: InventoryError[] = [];
  for (const file of files) {
    try {
      parseFileInto(readInventoryText(file), file, data, opts);
    } catch (e) {
      if (!(e instanceof InventoryError)) throw e;
      failures.push(e);
      opts.onWarning?.(`${e.message} (skipped, as Ansible does in an inventory directory)`);
    }
  }
  if (failures.length && failures.length === files.length) throw failures[0]!;
  if (files.length === 0) {
    const why = skipped.length ? `; skipped as Ansible does: ${skipped.map((f) => basename(f)).join(', ')} (it ignores ${IGNORED_EXTENSIONS.filter((x) => skipped.some((f) => f.endsWith(x))).join(', ')} files in an inventory directory)` : '';
    const hint = skipped.find((f) => f.endsWith('.ini'));
    throw new InventoryError(`${dir}: no inventory file in this directory${why}; give the file itself${hint ? ` (-i ${hint})` : ''}, or rename it without the extension`, dir);
  }
  data.reconcile();
  return data;
}

/** Reads an inventory file, or a directory of them, plus the group_vars/ and host_vars/ beside the file (inside the directory). */
export function loadInventory(path: string, opts: ParseOptions = {}): Inventory {
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InventoryError(code === 'ENOENT' ? `${path}: no such inventory file or directory (set -i FILE, EDGEFLEET_INVENTORY, or inventory: in edgefleet.yaml)` : `${path}: ${(e as Error).message}`, path, undefined, { cause: e });
  }
  const data = isDir ? loadDirectory(path, opts) : parseModel(readInventoryText(path), path, opts);
  try {
    return buildInventory(data, path, varsFilesReader(isDir ? path : dirname(path)));
  } catch (e) {
    if (e instanceof InventoryError) throw e;
    throw new InventoryError(`${path}: ${(e as Error).message}`, path, undefined, { cause: e });
  }
}
