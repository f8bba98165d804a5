import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { extname, join, sep } from 'node:path';
import { located } from './errors.js';
import { loadData, toPlain } from './yamlData.js';

// The host_group_vars vars plugin: group_vars/ and host_vars/ beside the inventory file.

const EXTENSIONS = ['.yml', '.yaml', '.json'];

function isDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

function isFile(p: string): boolean {
  try { return statSync(p).isFile(); } catch { return false; }
}

/** Files of a NAME/ directory, in name order, recursing into extension-less subdirectories. */
function dirVarsFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    if (entry.startsWith('.') || entry.endsWith('~')) continue; // hidden and backup files
    const ext = extname(entry);
    const full = join(dir, entry);
    if (isDir(full) && !ext) found.push(...dirVarsFiles(full));
    else if (isFile(full) && (!ext || EXTENSIONS.includes(ext))) found.push(full);
  }
  return found;
}

/** DataLoader.find_vars_files: the first of NAME, NAME.yml, NAME.yaml, NAME.json that exists, and only that one. */
export function findVarsFiles(dir: string, name: string): string[] {
  for (const ext of ['', ...EXTENSIONS]) {
    const full = join(dir, name) + ext;
    if (!existsSync(full)) continue;
    return isDir(full) ? dirVarsFiles(full) : [full];
  }
  return [];
}

export type VarsLookup = (kind: 'group_vars' | 'host_vars', name: string) => Record<string, unknown>;

/** Reads and merges (later files win, shallowly) the vars files for one group or host. */
export function varsFilesReader(baseDir: string): VarsLookup {
  const cache = new Map<string, Record<string, unknown>>();
  return (kind, name) => {
    const cacheKey = `${kind}\0${name}`;
    const hit = cache.get(cacheKey);
    if (hit) return hit;
    let data: Record<string, unknown> = {};
    const dir = join(baseDir, kind);
    // Names that look like absolute paths are skipped, as Ansible does for chroot-style hosts.
    if (!name.startsWith(sep) && existsSync(dir) && isDir(dir)) {
      for (const file of findVarsFiles(realpathSync(dir), name)) {
        const text = readFileSync(file, 'utf8');
        // Ansible decrypts these with a vault password; edgefleet has none and stores no secrets.
        if (/^\$ANSIBLE_VAULT;/.test(text)) {
          throw located(
            file,
            1,
            `encrypted with ansible-vault: edgefleet cannot read vault files (it has no vault password and stores no secrets); decrypt it (ansible-vault decrypt ${file}) or give edgefleet an inventory without it, with the vars it needs (ansible_host, ansible_user, ansible_port, ansible_ssh_private_key_file) in plain files (Ansible without a vault password: Attempting to decrypt but no vault secrets found)`,
          );
        }
        const loaded = loadData(text, file);
        const empty = loaded === null || loaded === '' || loaded === 0 || loaded === false ||
          (loaded instanceof Map && loaded.size === 0) || (Array.isArray(loaded) && loaded.length === 0);
        if (empty) continue;
        if (!(loaded instanceof Map)) {
          throw located(file, undefined, `failed to combine variables, expected dicts but got a 'dict' and a '${Array.isArray(loaded) ? 'list' : typeof loaded}'`);
        }
        data = { ...data, ...(toPlain(loaded) as Record<string, unknown>) };
      }
    }
    cache.set(cacheKey, data);
    return data;
  };
}
