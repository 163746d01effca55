// The image scripts (runtime-image/*.sh) and the docs generators (dev/docs/*.ts), run as an operator
// runs them: `--help` prints the script's header comment and exits 0, and an option it does not take
// is refused in one line with exit code 2 before it does anything. A shell script's header also
// names every BULKHEAD_ variable the script reads. The engine is out of reach (DOCKER_HOST names no
// socket), so a script that took `--help` for a build would stop at its engine check, not build.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { usageOf } from '../../dev/script-args.ts';
import { runCommand } from '../support/cli.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const env = { ...process.env, DOCKER_HOST: 'unix:///nonexistent/bulkhead-script-help.sock' };

const shellScripts = readdirSync(join(ROOT, 'runtime-image'))
  .filter((name) => name.endsWith('.sh') && name !== 'script-kit.sh')
  .map((name) => join('runtime-image', name));
const docsScripts = readdirSync(join(ROOT, 'dev/docs'))
  .filter((name) => name.endsWith('.ts'))
  .map((name) => join('dev/docs', name));

function script(file: string, ...args: string[]) {
  const [command, first] = file.endsWith('.sh') ? ['bash', file] : [process.execPath, file];
  return runCommand(command, [first, ...args], { cwd: ROOT, env });
}

/** A shell script's header comment: the `#` lines after the shebang, without the marks. */
function shellHeader(file: string): string {
  const header: string[] = [];
  for (const line of readFileSync(join(ROOT, file), 'utf8').split('\n').slice(1)) {
    if (!line.startsWith('#')) break;
    header.push(line.replace(/^# ?/, ''));
  }
  return header.join('\n');
}

describe('image scripts and docs generators', () => {
  it('are all found', () => {
    expect(shellScripts).toEqual(
      expect.arrayContaining([
        'runtime-image/build.sh',
        'runtime-image/base-offline.sh',
        'runtime-image/build-compose-images.sh',
      ]),
    );
    expect(docsScripts).toEqual(['dev/docs/config-reference.ts', 'dev/docs/tool-reference.ts']);
  });

  it('answer --help with their header comment and exit 0', async () => {
    for (const file of [...shellScripts, ...docsScripts]) {
      const help = await script(file, '--help');
      expect({ file, code: help.code, stderr: help.stderr }).toEqual({ file, code: 0, stderr: '' });
      const header = file.endsWith('.sh') ? shellHeader(file) : usageOf(join(ROOT, file));
      expect(header.length).toBeGreaterThan(80);
      expect(help.stdout.trim()).toBe(header.trim());
    }
  });

  it('refuse an option they do not take in one line with exit code 2', async () => {
    for (const file of [...shellScripts, ...docsScripts]) {
      const wrong = await script(file, '--no-such-option');
      expect({ file, code: wrong.code }).toEqual({ file, code: 2 });
      expect(wrong.stderr).toContain('--no-such-option');
      expect(wrong.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
      expect(wrong.stdout).toBe('');
    }
  });

  it("name in the shell scripts' --help every BULKHEAD_ variable they read", () => {
    for (const file of shellScripts) {
      const read = new Set(readFileSync(join(ROOT, file), 'utf8').match(/(?<=\$\{?)BULKHEAD_[A-Z0-9_]+/g));
      const help = shellHeader(file);
      expect({ file, unnamed: [...read].filter((name) => !help.includes(name)) }).toEqual({
        file,
        unnamed: [],
      });
    }
  });
});
