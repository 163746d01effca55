// Which external commands a bash script needs: `command -v X` checks, `need X` / `require X`
// helpers, and bare calls (the first word of every simple command, including inside `$(...)`, after
// `|`, `&&`, `||`, `;`, `!`, keywords such as `then` and `do`, and wrappers such as `timeout`, `xargs`
// or `setsid`). A reader, not a shell: it strips comments, quoted text and heredoc bodies (code for
// other interpreters: awk programs, `node -e` scripts) and keeps what is left of each line. It errs on
// the side of reporting a word, so a missed install fails the test rather than passing unseen.

const KEYWORDS = new Set([
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'for',
  'in',
  'while',
  'until',
  'do',
  'done',
  'case',
  'esac',
  'function',
  'select',
  'time',
  '!',
  '{',
  '}',
  '[[',
  ']]',
  '((',
  '))',
]);

/** Builtins of bash (help -s): never installed by a package. */
const BUILTINS = new Set([
  '.',
  ':',
  '[',
  'alias',
  'bg',
  'bind',
  'break',
  'builtin',
  'caller',
  'cd',
  'command',
  'compgen',
  'complete',
  'continue',
  'declare',
  'dirs',
  'disown',
  'echo',
  'enable',
  'eval',
  'exec',
  'exit',
  'export',
  'false',
  'fc',
  'fg',
  'getopts',
  'hash',
  'help',
  'history',
  'jobs',
  'kill',
  'let',
  'local',
  'logout',
  'mapfile',
  'popd',
  'printf',
  'pushd',
  'pwd',
  'read',
  'readarray',
  'readonly',
  'return',
  'set',
  'shift',
  'shopt',
  'source',
  'suspend',
  'test',
  'times',
  'trap',
  'true',
  'type',
  'typeset',
  'ulimit',
  'umask',
  'unalias',
  'unset',
  'wait',
]);

/** Commands that run the command named after their own options. */
const WRAPPERS: Record<string, RegExp> = {
  exec: /^-/,
  timeout: /^(-|\d+[smhd]?$)/,
  xargs: /^-/,
  setsid: /^-/,
  nohup: /^-/,
  nice: /^-/,
  env: /^(-|[A-Za-z_][A-Za-z0-9_]*=)/,
  sudo: /^-/,
  flock: /^(-|\d+$)/,
};

export interface ShellNeeds {
  /** Commands the script calls or checks for, minus builtins and its own functions. */
  commands: Set<string>;
}

/**
 * Arithmetic (`$(( a - b ))`, `(( i++ ))`) holds no command names, but may hold a command
 * substitution: turn its outer parentheses into brackets so that only the substitution is split out.
 */
function markArithmetic(text: string): string {
  let out = text;
  for (let i = out.indexOf('(('); i >= 0; i = out.indexOf('((', i + 1)) {
    let depth = 0;
    let j = i;
    for (; j < out.length; j++) {
      if (out[j] === '(') depth++;
      else if (out[j] === ')' && --depth === 0) break;
    }
    if (j >= out.length || out[j - 1] !== ')') continue;
    out = `${out.slice(0, i)}[[${out.slice(i + 2, j - 1)}]]${out.slice(j + 1)}`;
  }
  return out;
}

/**
 * Removes heredoc bodies, comments and quoted text. Command substitutions inside double quotes are
 * returned apart (`substitutions`), to be read as commands of their own; the quoted word stays as `""`.
 */
function strip(source: string): { text: string; substitutions: string[] } {
  const lines = markArithmetic(source.replace(/\\\n/g, ' ')).split('\n');
  const kept: string[] = [];
  let heredocEnd: string | undefined;
  for (const line of lines) {
    if (heredocEnd !== undefined) {
      if (line.trim() === heredocEnd) heredocEnd = undefined;
      continue;
    }
    const heredoc = /<<-?\s*['"]?([A-Za-z_]+)['"]?/.exec(line);
    if (heredoc) heredocEnd = heredoc[1];
    kept.push(line);
  }
  const text = kept.join('\n');
  const substitutions: string[] = [];
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\') {
      out += text.slice(i, i + 2);
      i += 2;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      out += "''";
      i = end < 0 ? text.length : end + 1;
    } else if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\') j += 2;
        else if (text.startsWith('$(', j)) {
          let depth = 0;
          const start = j;
          for (; j < text.length; j++) {
            if (text[j] === '(') depth++;
            else if (text[j] === ')' && --depth === 0) break;
          }
          substitutions.push(text.slice(start + 2, j));
          j++;
        } else j++;
      }
      out += '""';
      i = j + 1;
    } else if (c === '#' && (i === 0 || /[\s;(]/.test(text[i - 1]!))) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end;
    } else {
      out += c;
      i++;
    }
  }
  // Array assignments (`a=(x y)`, over several lines too) list words, not commands.
  return { text: out.replace(/=\([^)]*\)/g, '=ARRAY'), substitutions };
}

/** The functions a script defines (a sourced helper library's count as the sourcing script's own). */
export function shellFunctions(source: string): Set<string> {
  return new Set(
    [...strip(source).text.matchAll(/^\s*(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\)\s*\{/gm)].map((m) => m[1]!),
  );
}

/** The helper libraries a script sources (`. lib.sh`, `source "$HERE/lib.sh"`), by file name. */
export function sourcedFiles(source: string): string[] {
  return [...source.matchAll(/^\s*(?:\.|source)\s+\S.*?([\w.-]+\.sh)"?\s*$/gm)].map((m) => m[1]!);
}

export function shellNeeds(source: string, inherited: Set<string> = new Set()): ShellNeeds {
  const { text, substitutions } = strip(source);
  const functions = new Set([...inherited, ...shellFunctions(source)]);
  const commands = new Set<string>();
  for (const m of text.matchAll(/\bcommand\s+-v\s+([\w.+-]+)/g)) commands.add(m[1]!);
  for (const m of text.matchAll(/^\s*(?:need|require)\s+([\w.+-]+)/gm)) commands.add(m[1]!);
  // Split into simple commands at separators, subshells, command substitutions and keywords.
  const pieces = text.split(/\n|;|&&|\|\||\||\$\(|`|\(|\)|&/);
  for (const piece of pieces) {
    const words = piece.trim().split(/\s+/).filter(Boolean);
    let k = 0;
    const skipAssignments = () => {
      while (k < words.length && /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/.test(words[k]!)) k++;
    };
    for (;;) {
      skipAssignments();
      const word = words[k];
      if (word === undefined) break;
      if (KEYWORDS.has(word)) {
        k++;
        continue;
      }
      // A `case` arm (`pattern)` was split at the parenthesis) or a `for x in ...` list leaves words
      // that are not commands; so do redirections and expansions.
      if (/^[<>0-9]|^\$|^["'/.~*]|^-|=/.test(word) || word.endsWith('=')) break;
      if (words[k - 1] === 'for' || words[k - 1] === 'in') break;
      const wrapper = WRAPPERS[word];
      if (wrapper) {
        if (!BUILTINS.has(word)) commands.add(word);
        k++;
        while (k < words.length && wrapper.test(words[k]!)) k++;
        continue;
      }
      if (!BUILTINS.has(word) && !functions.has(word) && /^[\w.+-]+$/.test(word)) commands.add(word);
      break;
    }
  }
  for (const inner of substitutions) {
    for (const command of shellNeeds(inner, functions).commands) commands.add(command);
  }
  return { commands };
}
