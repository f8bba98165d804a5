import { readFileSync } from 'node:fs';
import { dirname, extname } from 'node:path';
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
 * The yaml plugin only takes .yml/.yaml/.json or extension-less files; among extension-less
 * ones, a file whose content loads as a YAML/JSON mapping is YAML, anything else is INI.
 */
export function guessFormat(text: string, file: string): InventoryFormat {
  const ext = extname(file).toLowerCase();
  if (['.yml', '.yaml', '.json'].includes(ext)) return 'yaml';
  if (ext) return 'ini';
  try {
    return loadData(text, file) instanceof Map ? 'yaml' : 'ini';
  } catch {
    return 'ini';
  }
}

function parseModel(text: string, file: string, opts: ParseOptions): InventoryData {
  const data = new InventoryData();
  const format = opts.format ?? guessFormat(text, file);
  try {
    if (format === 'yaml') parseYaml(text, file, data, opts.onWarning);
    else parseIni(text, file, data);
    data.reconcile();
  } catch (e) {
    if (e instanceof InventoryError) throw e;
    if (e instanceof ParseFailure) throw new InventoryError(`${file}: ${e.message}`, file, undefined, { cause: e });
    throw e;
  }
  return data;
}

/** Parses inventory text; pure (no group_vars/ or host_vars/). */
export function parseInventory(text: string, file: string, opts: ParseOptions = {}): Inventory {
  return buildInventory(parseModel(text, file, opts), file);
}

/** Reads an inventory file plus the group_vars/ and host_vars/ folders beside it. */
export function loadInventory(path: string, opts: ParseOptions = {}): Inventory {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InventoryError(`${path}: ${(e as Error).message}`, path, undefined, { cause: e });
  }
  const data = parseModel(text, path, opts);
  try {
    return buildInventory(data, path, varsFilesReader(dirname(path)));
  } catch (e) {
    if (e instanceof InventoryError) throw e;
    throw new InventoryError(`${path}: ${(e as Error).message}`, path, undefined, { cause: e });
  }
}
