import { COMMON_FLAGS, UsageError, type Command, type Flag } from '../command.js';

/** Flags whose value is a file: completed with file names. */
const FILE_VALUES = ['FILE', 'PATH'];

const flagWords = (c: Command) => [...c.flags, ...COMMON_FLAGS].flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]);
const fileFlags = (commands: Command[]) => [...new Set(commands.flatMap((c) => [...c.flags, ...COMMON_FLAGS]).filter((f) => FILE_VALUES.includes(f.value ?? '')).flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]))];

/** A bash completion script: commands, then each command's flags; file names after -i, --db, --config, --event. */
export function bashCompletion(commands: Command[]): string {
  const cases = commands.filter((c) => c.name !== 'completion').map((c) => `    ${c.name}) opts="${flagWords(c).join(' ')}" ;;`).join('\n');
  return `# edgefleet bash completion: source it, or put it in /etc/bash_completion.d/edgefleet
_edgefleet() {
  local cur prev cmd opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${commands.map((c) => c.name).join(' ')} --help --version" -- "$cur"))
    return
  fi
  case "$prev" in
    ${fileFlags(commands).join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  cmd="\${COMP_WORDS[1]}"
  case "$cmd" in
${cases}
    completion) opts="bash zsh" ;;
    *) opts="" ;;
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o default -F _edgefleet edgefleet
`;
}

const zq = (s: string) => s.replace(/'/g, `'\\''`).replace(/[[\]:]/g, '\\$&');

function zshSpec(f: Flag): string {
  const names = f.short ? `'(-${f.short} --${f.name})'{-${f.short},--${f.name}}` : `'--${f.name}`;
  const open = f.short ? `'` : '';
  const value = f.type === 'string' ? `:${(f.value ?? 'value').toLowerCase()}:${FILE_VALUES.includes(f.value ?? '') ? '_files' : ' '}` : '';
  return `${f.multiple ? "'*'" : ''}${names}${open}[${zq(f.help)}]${value}'`;
}

/** A zsh completion script (#compdef): commands with their summaries, then each command's flags. */
export function zshCompletion(commands: Command[]): string {
  const list = commands.filter((c) => c.name !== 'completion').map((c) => `    '${c.name}:${zq(c.summary)}'`).join('\n');
  const cases = commands.filter((c) => c.name !== 'completion').map((c) => `    ${c.name}) _arguments -s ${[...c.flags, ...COMMON_FLAGS].map(zshSpec).join(' ')} '*:argument:_files' ;;`).join('\n');
  return `#compdef edgefleet
# edgefleet zsh completion: save as _edgefleet in a folder of $fpath, or source it.
_edgefleet() {
  local -a commands
  commands=(
${list}
    'completion:print a shell completion script'
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'edgefleet command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases}
    completion) _values 'shell' bash zsh ;;
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _edgefleet "$@"; else compdef _edgefleet edgefleet; fi
`;
}

/** `edgefleet completion bash|zsh` needs the list of commands: index.ts gives it. */
export function completionCommand(commands: () => Command[]): Command {
  return {
    name: 'completion',
    args: 'bash|zsh',
    summary: 'print a shell completion script',
    flags: [],
    examples: ['source <(edgefleet completion bash)', 'edgefleet completion zsh > ~/.zfunc/_edgefleet'],
    run(_o, args) {
      const shell = args[0];
      if (args.length !== 1 || (shell !== 'bash' && shell !== 'zsh')) throw new UsageError('completion takes bash or zsh');
      process.stdout.write(shell === 'bash' ? bashCompletion(commands()) : zshCompletion(commands()));
      return 0;
    },
  };
}
