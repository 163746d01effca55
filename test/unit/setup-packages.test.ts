// A new machine has only what .ci/new-machine.txt lists; .ci/setup.sh installs the rest
// (REQUIRED_PACKAGES). Every command that a script under .ci/ or runtime-image/ calls or checks for
// must be in one of the two, or the README's first command fails on a new machine.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shellFunctions, shellNeeds, sourcedFiles } from '../support/shell-commands.ts';

const ROOT = resolve(import.meta.dirname, '../..');

function requiredPackages(): Map<string, string> {
  const setup = readFileSync(join(ROOT, '.ci/setup.sh'), 'utf8');
  const table = /^REQUIRED_PACKAGES=\(\n([\s\S]*?)^\)/m.exec(setup);
  if (!table) throw new Error('.ci/setup.sh has no REQUIRED_PACKAGES=( ... ) table');
  const pairs = [...table[1]!.matchAll(/^\s*"(\S+) (\S+)"/gm)].map((m) => [m[1]!, m[2]!] as const);
  return new Map(pairs);
}

function newMachineCommands(): Set<string> {
  const lines = readFileSync(join(ROOT, '.ci/new-machine.txt'), 'utf8').split('\n');
  return new Set(lines.filter((l) => l.trim() && !l.startsWith('#')).map((l) => l.split(/\s+/)[0]!));
}

function shellScripts(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'dist' || name === 'node_modules') continue;
    if (statSync(path).isDirectory()) found.push(...shellScripts(path));
    else if (name.endsWith('.sh') || /^#!.*\b(ba)?sh\b/.test(readFileSync(path, 'utf8').split('\n', 1)[0]!))
      found.push(path);
  }
  return found;
}

/** "script: command" for every command a script needs that neither a new machine nor setup has. */
function unmet(scripts: Record<string, string>, available: Set<string>): string[] {
  return Object.entries(scripts).flatMap(([name, source]) => {
    // Functions of the helper libraries a script sources are its own (found among the scripts).
    const library = sourcedFiles(source).flatMap((file) =>
      Object.entries(scripts).flatMap(([other, text]) =>
        other.endsWith(`/${file}`) ? [...shellFunctions(text)] : [],
      ),
    );
    return [...shellNeeds(source, new Set(library)).commands]
      .filter((c) => !available.has(c))
      .map((c) => `${name}: ${c}`);
  });
}

describe('setup installs what the scripts need', () => {
  const installed = requiredPackages();
  const available = new Set([...newMachineCommands(), ...installed.keys()]);

  it('finds the scripts and the two lists', () => {
    const scripts = [...shellScripts(join(ROOT, '.ci')), ...shellScripts(join(ROOT, 'runtime-image'))];
    expect(scripts.map((s) => relative(ROOT, s))).toEqual(
      expect.arrayContaining(['.ci/setup.sh', '.ci/run', 'runtime-image/base-offline.sh']),
    );
    expect(installed.get('debootstrap')).toBe('debootstrap');
    expect(newMachineCommands()).not.toContain('debootstrap');
    // The browser tests drive Debian's Chromium (test/support/inspector-web.ts): setup brings it.
    expect(installed.get('chromium')).toBe('chromium');
    expect(newMachineCommands()).not.toContain('chromium');
  });

  it('every command of every script under .ci/ and runtime-image/ is on a new machine or installed by setup', () => {
    const scripts = Object.fromEntries(
      [...shellScripts(join(ROOT, '.ci')), ...shellScripts(join(ROOT, 'runtime-image'))].map((p) => [
        relative(ROOT, p),
        readFileSync(p, 'utf8'),
      ]),
    );
    expect(unmet(scripts, available)).toEqual([]);
  });

  it('fails on a script that requires a command setup does not install', () => {
    const script = [
      '#!/usr/bin/env bash',
      'command -v debootstrap >/dev/null || exit 1',
      'command -v mkisofs >/dev/null || exit 1',
      'skopeo copy "$a" "$b"',
    ].join('\n');
    expect(unmet({ 'new.sh': script }, available)).toEqual(['new.sh: mkisofs', 'new.sh: skopeo']);
    // A helper library's functions count only where it is sourced.
    const lib = 'say() { printf "%s\\n" "$*"; }';
    expect(
      unmet({ 'a/lib.sh': lib, 'a/x.sh': '. "$HERE/lib.sh"\nsay hi', 'a/y.sh': 'say hi' }, available),
    ).toEqual(['a/y.sh: say']);
  });
});

describe('shellNeeds', () => {
  it('reads checks, bare calls, pipelines, substitutions and wrappers', () => {
    const script = `#!/usr/bin/env bash
# comment: curl is not called here
set -euo pipefail
now() { date +%s%N; }
need() { command -v "$1" >/dev/null || exit 1; }
need jq
if ! command -v zstd >/dev/null 2>&1; then apt-get install -y zstd; fi
out=$(tar -cf - . | gzip -c | wc -c) || true
LOG="$(dirname "$0")/x" FOO=1 rsync -a a b
x=( one two ); y=$(( $(nproc) * 2 ))
for f in a b; do timeout 5 xargs -r -n1 umount <<<"$f"; done
node -e 'require("child_process").execSync("curl x")'
setsid nohup dockerd >log 2>&1 &
cat <<'EOF'
wget http://nowhere
EOF
echo "$(awk '{ print }' file)"
`;
    expect([...shellNeeds(script).commands].sort()).toEqual(
      [
        'apt-get',
        'awk',
        'cat',
        'date',
        'dirname',
        'dockerd',
        'gzip',
        'jq',
        'node',
        'nohup',
        'nproc',
        'rsync',
        'setsid',
        'tar',
        'timeout',
        'umount',
        'wc',
        'xargs',
        'zstd',
      ].sort(),
    );
  });
});
