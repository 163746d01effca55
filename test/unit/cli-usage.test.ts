// Every CLI command's usage, which `--help` prints and docs/operations.md copies, names exactly the
// options the command parses: each command is run until it parses its arguments (parse, from
// tenants/cli/command-kit.ts, records the options it is given and stops the command there), and
// the options it declared are compared with the `--flags` of its usage.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type * as CommandKit from '../../tenants/cli/command-kit.ts';
import type { Command } from '../../tenants/cli/command-kit.ts';

const declared = vi.hoisted(() => ({ options: undefined as Record<string, { short?: string }> | undefined }));
class Parsed extends Error {}

vi.mock('../../tenants/cli/command-kit.ts', async (importOriginal) => {
  const original = await importOriginal<typeof CommandKit>();
  return {
    ...original,
    parse: (_args: string[], options: Record<string, { short?: string }>) => {
      declared.options = options;
      throw new Parsed();
    },
  };
});

const { operatorCommands } = await import('../../tenants/cli/program.ts');
const { up } = await import('../../dev/cli/up-command.ts');
const { token } = await import('../../dev/cli/token-command.ts');
const { consoleClient } = await import('../../dev/cli/console-client-command.ts');

/** The flags a usage names, `--name` and `-x`; quoted text (an example command line) left out. */
function flagsOf(usage: string): string[] {
  const text = usage.replace(/"[^"]*"/g, '""');
  return [...new Set([...text.matchAll(/(?<![\w-])(--?[a-z][a-z-]*)/g)].map((m) => m[1]!))].sort();
}

/** The flags `options` (as given to parseArgs) makes the command take. */
function flagsDeclared(options: Record<string, { short?: string }>): string[] {
  return Object.entries(options)
    .flatMap(([name, option]) => [`--${name}`, ...(option.short ? [`-${option.short}`] : [])])
    .sort();
}

async function optionsOf(command: Command, args: string[]): Promise<Record<string, { short?: string }>> {
  declared.options = undefined;
  await expect(command.run(args)).rejects.toBeInstanceOf(Parsed);
  return declared.options!;
}

const commands: Record<string, Command> = {
  ...operatorCommands({ routerProbe: () => Promise.reject(new Error('never')) }),
  up,
  token,
  'console-client': consoleClient,
};

beforeEach(() => {
  declared.options = undefined;
});

describe('CLI usage', () => {
  it('names exactly the options each command parses', async () => {
    const checked: string[] = [];
    for (const [name, command] of Object.entries(commands)) {
      if (command.subcommands) {
        for (const [sub, subcommand] of Object.entries(command.subcommands)) {
          const options = await optionsOf(subcommand, []);
          expect.soft({ command: `${name} ${sub}`, flags: flagsOf(subcommand.usage) }).toEqual({
            command: `${name} ${sub}`,
            flags: flagsDeclared(options),
          });
          checked.push(`${name} ${sub}`);
        }
        continue;
      }
      const options = await optionsOf(command, []);
      expect.soft({ command: name, flags: flagsOf(command.usage) }).toEqual({
        command: name,
        flags: flagsDeclared(options),
      });
      checked.push(name);
    }
    expect(checked).toContain('apply');
    expect(checked).toContain('pack build');
    expect(checked).toContain('console-client');
  });

  it('names on each line of the audit usage exactly the options of that subcommand', async () => {
    const audit = commands.audit!;
    const lines = audit.usage.split('\n');
    for (const sub of ['verify', 'export', 'keygen']) {
      const line = lines.find((l) => l.trim().startsWith(`bulkhead audit ${sub} `));
      expect(line, sub).toBeDefined();
      const options = await optionsOf(audit, [sub]);
      expect({ sub, flags: flagsOf(line!) }).toEqual({ sub, flags: flagsDeclared(options) });
    }
  });
});
