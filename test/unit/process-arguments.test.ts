// Every process entry (router, supervisor, console, egress gateway, development IdP, tenant
// runtime) is configured by its environment alone (kernel/process/process-entry.ts): run as an
// operator runs it, `--help` prints its usage and exits 0, and any other argument is refused in one
// line with exit code 2 before the environment is read. The environment given is empty, so an entry
// that got past its arguments stops at its first required variable, with another message.
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../support/cli.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const ENTRIES = [
  'router/main.ts',
  'supervisor/main.ts',
  'console/main.ts',
  'egress/main.ts',
  'dev/idp/main.ts',
  'runtime-image/src/server.ts',
];

function entry(file: string, ...args: string[]) {
  return runCommand(process.execPath, [join(ROOT, file), ...args], { env: { PATH: process.env.PATH ?? '' } });
}

describe('process entries', () => {
  it('answer --help with their usage and exit 0', { timeout: 120_000 }, async () => {
    for (const file of ENTRIES) {
      const help = await entry(file, '--help');
      expect({ file, code: help.code }).toEqual({ file, code: 0 });
      expect(help.stdout).toMatch(/^Usage: /);
      expect(help.stdout).toContain('Environment:');
    }
  });

  it('refuse any other argument in one line with exit code 2', { timeout: 120_000 }, async () => {
    for (const file of ENTRIES) {
      const wrong = await entry(file, '--port', '9000');
      expect({ file, code: wrong.code }).toEqual({ file, code: 2 });
      expect(wrong.stderr).toMatch(
        /: takes no arguments, only its environment \(--help lists it\), not: --port 9000\n$/,
      );
      expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
