import { DEFAULT_CONFIG, envName, leaves } from '../shared/config/config.js';

/** edgefleet.yaml as `edgefleet init` writes it: every key, its default, and its environment variable. */
export const CONFIG_TEMPLATE = (() => {
  const lines = ['# edgefleet configuration. Every key can be overridden by the environment variable beside it.', ''];
  let section = '';
  for (const [key, value] of leaves(DEFAULT_CONFIG as unknown as Record<string, unknown>)) {
    const parts = key.split('.');
    const top = parts.length > 1 ? parts[0]! : '';
    if (top !== section) {
      if (top) lines.push(`${top}:`);
      section = top;
    }
    // Machine-specific defaults (home, user, agent socket) are left to be computed at run time.
    const shown = /knownHostsFile|agentSocket|^ssh\.user$/.test(key) ? undefined : value;
    const indent = parts.length > 1 ? '  ' : '';
    const yamlValue = shown === undefined ? null : JSON.stringify(shown);
    lines.push(`${indent}${shown === undefined ? '# ' : ''}${parts.at(-1)}: ${yamlValue ?? ''}${' '.repeat(2)}# ${envName(key)}`);
  }
  return lines.join('\n') + '\n';
})();

/** The inventory `edgefleet init` writes when the configured one does not exist yet. */
export const LOCAL_INVENTORY = `# The hub itself. Add your nodes as in any Ansible inventory, e.g.
#   [jetsons]
#   jetson-[01:04] ansible_host=192.0.2.[11:14] ansible_user=nvidia
[hub]
localhost ansible_connection=local
`;
