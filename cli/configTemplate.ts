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

/** List keys shown commented out in their section, with what they are for. */
const LIST_EXAMPLES: Record<string, string[]> = {
  'store.keepVars': ['  # keepVars: [vault_addr]  # EDGEFLEET_STORE_KEEP_VARS=a,b; inventory vars kept as they are although their names say secret'],
  'api.keys': [
    '  # API keys (Authorization: Bearer KEY or X-Api-Key: KEY), at least 16 characters each.',
    '  # keys: [change-me-to-a-long-random-string]  # EDGEFLEET_API_KEY (added); may read and change (POST /deployments, POST /inference)',
  ],
  'api.readKeys': ['  # readKeys: [another-long-random-string]  # EDGEFLEET_API_READ_KEY (added); may only read; reads need a key when hub.host is not loopback'],
};

/** edgefleet.yaml as `edgefleet init` writes it: every key, its default, and its environment variable. */
export const CONFIG_TEMPLATE = (() => {
  const lines = ['# edgefleet configuration. Every key can be overridden by the environment variable beside it.', ''];
  let section = '';
  for (const [key, rule] of keysOf(SCHEMA)) {
    const list = Array.isArray(rule.defaultValue) && key !== 'collect.kinds';
    // Registries are shown as a commented example below; the other lists as commented lines in their section.
    if (list && !(key in LIST_EXAMPLES)) continue;
    const value = rule.defaultValue;
    const parts = key.split('.');
    const top = parts.length > 1 ? parts[0]! : '';
    if (top !== section) {
      if (top) lines.push(`${top}:`);
      section = top;
    }
    if (list) {
      lines.push(...LIST_EXAMPLES[key]!);
      continue;
    }
    // Machine-specific defaults (home, user, agent socket) are left to be computed at run time.
    const shown = rule.options.machineDefault ? undefined : value;
    const indent = parts.length > 1 ? '  ' : '';
    const yamlValue = shown === undefined ? null : JSON.stringify(shown);
    lines.push(`${indent}${shown === undefined ? '# ' : ''}${parts.at(-1)}: ${yamlValue ?? ''}${' '.repeat(2)}# ${envOf(key, rule)}; ${rule.allowed}`);
  }
  lines.push(...REGISTRIES_EXAMPLE);
  return lines.join('\n') + '\n';
})();


/** The inventory `edgefleet init` writes when the configured one does not exist yet. */
export const LOCAL_INVENTORY = `# The hub itself. Add your nodes as in any Ansible inventory, e.g.
#   [jetsons]
#   jetson-[01:04].lab.example ansible_user=nvidia
#   jetson-05 ansible_host=192.0.2.15 ansible_user=nvidia
# (a range expands host names only: one ansible_host on a range line would go to every host)
[hub]
localhost ansible_connection=local
`;
