import { SCHEMA } from '../shared/config/config.js';
import { envOf, keysOf } from '../shared/config/schema.js';

/** `registries:` is a list: shown as a commented example (docs/models.md). */
const REGISTRIES_EXAMPLE = [
  '# Container registries holding the lab’s models (docs/models.md). One registry can also be',
  '# given by EDGEFLEET_REGISTRY_URL, _USERNAME, _PASSWORD, _INSECURE, _CA_FILE, _NAMESPACES.',
  '# registries:',
  '#   - name: lab',
  '#     url: https://registry.lab:5000',
  '#     username: edgefleet',
  '#     password: secret          # better: EDGEFLEET_REGISTRY_PASSWORD',
  '#     caFile: certs/lab-ca.pem  # the CA that signed the registry’s certificate',
  '#     insecure: false           # true: plain HTTP, no certificate check',
  '#     namespaces: [models]      # only these; all when empty',
];

/** edgefleet.yaml as `edgefleet init` writes it: every key, its default, and its environment variable. */
export const CONFIG_TEMPLATE = (() => {
  const lines = ['# edgefleet configuration. Every key can be overridden by the environment variable beside it.', ''];
  let section = '';
  for (const [key, rule] of keysOf(SCHEMA)) {
    // Lists (registries, API keys) are shown as commented examples below; keepVars in its section.
    if (key === 'store.keepVars') lines.push('  # keepVars: [vault_addr]  # EDGEFLEET_STORE_KEEP_VARS=a,b: inventory vars kept as they are although their names say secret');
    if (Array.isArray(rule.defaultValue) && key !== 'collect.kinds') continue;
    const value = rule.defaultValue;
    const parts = key.split('.');
    const top = parts.length > 1 ? parts[0]! : '';
    if (top !== section) {
      if (top) lines.push(`${top}:`);
      section = top;
    }
    // Machine-specific defaults (home, user, agent socket) are left to be computed at run time.
    const shown = rule.options.machineDefault ? undefined : value;
    const indent = parts.length > 1 ? '  ' : '';
    const yamlValue = shown === undefined ? null : JSON.stringify(shown);
    lines.push(`${indent}${shown === undefined ? '# ' : ''}${parts.at(-1)}: ${yamlValue ?? ''}${' '.repeat(2)}# ${envOf(key, rule)}; ${rule.allowed}`);
  }
  lines.push(...REGISTRIES_EXAMPLE);
  lines.push(
    '',
    '# API keys (Authorization: Bearer KEY or X-Api-Key: KEY), at least 16 characters each. keys may',
    '# do everything (POST /deployments, POST /inference; one also by EDGEFLEET_API_KEY); readKeys may',
    '# only read (one also by EDGEFLEET_API_READ_KEY). Reads need a key when hub.host is not loopback.',
    '# api:',
    '#   keys: [change-me-to-a-long-random-string]',
    '#   readKeys: [another-long-random-string-for-grafana]',
  );
  return lines.join('\n') + '\n';
})();


/** The inventory `edgefleet init` writes when the configured one does not exist yet. */
export const LOCAL_INVENTORY = `# The hub itself. Add your nodes as in any Ansible inventory, e.g.
#   [jetsons]
#   jetson-[01:04] ansible_host=192.0.2.[11:14] ansible_user=nvidia
[hub]
localhost ansible_connection=local
`;
