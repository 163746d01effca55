// The CLI program maps every failure to an exit code once, through the error table: bad usage and
// invalid input 2 (a usage error also prints the command's usage), tenant exists / not found 3, a
// concurrent change 4, anything else 1. Its help lists the environment cliConfig declares.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { TenantConflictError, TenantNotFoundError } from '../../kernel/registry/tenant-registry.ts';
import { ApplyInputError } from '../../tenants/control-plane/apply.ts';
import { UsageError, type Command } from '../../tenants/cli/command-kit.ts';
import { cliConfig } from '../../tenants/cli/config.ts';
import { operatorCommands, runProgram } from '../../tenants/cli/program.ts';
import { devCommands } from '../../dev/cli/dev-commands.ts';

let out: string[];
let err: string[];

beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  vi.spyOn(console, 'error').mockImplementation((line: string) => void err.push(line));
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

const failing = (error: Error): Record<string, Command> => ({
  fail: {
    summary: 'fails',
    usage: 'bulkhead fail <x>',
    run: () => Promise.reject(error),
  },
});

describe('CLI exit codes', () => {
  const cases: [string, Error, number][] = [
    ['a usage error', new UsageError('needs <x>'), 2],
    ['invalid input', new ApplyInputError('bad.yaml: malformed YAML'), 2],
    ['a schema violation', z.string().min(3).safeParse('ab').error!, 2],
    ['a missing tenant', new TenantNotFoundError('tenant "x" not found'), 3],
    ['a concurrent change', new TenantConflictError('changed: generation 2, expected 1'), 4],
    ['anything else', new Error('cannot reach Redis'), 1],
  ];
  for (const [what, error, code] of cases) {
    it(`exits ${code} on ${what}`, async () => {
      expect(await runProgram(failing(error), ['fail'])).toBe(code);
      expect(err.join('\n')).toMatch(/^error: /);
    });
  }

  it('prints the usage of the command only with a usage error', async () => {
    await runProgram(failing(new UsageError('needs <x>')), ['fail']);
    expect(err).toEqual(['error: needs <x>\nusage: bulkhead fail <x>']);
    err = [];
    await runProgram(failing(new ApplyInputError('bad.yaml: malformed YAML')), ['fail']);
    expect(err).toEqual(['error: bad.yaml: malformed YAML']);
  });

  it('prints a refusal that quotes what a pack wrote with its lines, but no control character', async () => {
    const stderr = 'closed\n  its stderr:\nok\u001b[2J\rdone\u009b';
    await runProgram(failing(new Error(`the pack did not answer MCP in the sandbox: ${stderr}`)), ['fail']);
    expect(err).toEqual([
      'error: the pack did not answer MCP in the sandbox: closed\n  its stderr:\nok\\u001b[2J\\u000ddone\\u009b',
    ]);
  });

  it('takes --if-generation as UID:GENERATION only, refusing a generation alone before it reads anything', async () => {
    // Where nothing answers: an update that got past its options would fail to connect, not write.
    vi.stubEnv('BULKHEAD_REDIS_URL', 'redis://127.0.0.1:1');
    vi.stubEnv('BULKHEAD_NAMESPACE', 't-cli-none');
    const commands = operatorCommands();
    for (const value of ['3', '100004:', 'acme:3', '100004:3:1']) {
      err = [];
      expect(await runProgram(commands, ['update', 'acme', '--name', 'x', '--if-generation', value])).toBe(2);
      expect(err.join('\n')).toContain(
        `--if-generation takes UID:GENERATION as "bulkhead show <tenant-id>" prints them`,
      );
    }
    out = [];
    expect(await runProgram(commands, ['update', '--help'])).toBe(0);
    expect(out.join('\n')).toContain('[--if-generation UID:GENERATION]');
  });

  it('refuses an argument a command does not take with 2, before it reads or writes anything', async () => {
    // Where nothing answers: a command that got past its arguments would fail to connect (exit 1).
    vi.stubEnv('BULKHEAD_REDIS_URL', 'redis://127.0.0.1:1');
    vi.stubEnv('BULKHEAD_NAMESPACE', 't-cli-none');
    const keys = await mkdtemp(join(tmpdir(), 'bulkhead-cli-program-'));
    try {
      const cases: [string[], string][] = [
        [['list', 'acme'], "Unexpected argument 'acme'"],
        [['pack', 'list', 'files'], "Unexpected argument 'files'"],
        [['keygen', 'acme', '--out', keys], "Unexpected argument 'acme'"],
        [['apply', '-f', 'a.yaml', 'b.yaml'], "Unexpected argument 'b.yaml'"],
        [['history', 'acme', 'other'], 'history takes at most one tenant id'],
        [['pack', 'history', 'files', 'other'], 'pack history takes at most one pack name'],
      ];
      for (const [argv, message] of cases) {
        err = [];
        expect({ argv, code: await runProgram(operatorCommands(), argv) }).toEqual({ argv, code: 2 });
        expect(err.join('\n')).toContain(message);
      }
      expect(await readdir(keys)).toEqual([]);
    } finally {
      await rm(keys, { recursive: true, force: true });
    }
  });

  it('refuses a token command line that names no tenant and no user before it looks for a stack', async () => {
    const devDir = await mkdtemp(join(tmpdir(), 'bulkhead-cli-program-'));
    try {
      vi.stubEnv('BULKHEAD_DEV_DIR', devDir);
      expect(await runProgram(devCommands(), ['token', '--scope', 'records:read'])).toBe(2);
      expect(err.join('\n')).toContain('token needs --tenant (an agent token) or --user (a user token)');
    } finally {
      await rm(devDir, { recursive: true, force: true });
    }
  });

  it('refuses an up whose --tenant is no tenant id before it starts anything', async () => {
    // --port 0 is refused too, by the port check: an up that checked the tenant after it says so.
    expect(await runProgram(devCommands(), ['up', '--tenant', 'Demo!', '--port', '0'])).toBe(2);
    expect(err.join('\n')).toMatch(/^error: --tenant Demo!: /);
  });

  it('refuses an up whose flags name one port twice before it starts anything', async () => {
    // --console-port 0 is refused too, by the port check: an up that missed the repeat says so.
    const argv = ['up', '--port', '18431', '--idp-port', '18431', '--console-port', '0'];
    expect(await runProgram(devCommands(), argv)).toBe(2);
    expect(err.join('\n')).toContain('error: --port and --idp-port name the same port 18431');
  });

  it('refuses an unknown command with 2 and answers --help with 0', async () => {
    expect(await runProgram(failing(new Error('never')), ['frobnicate'])).toBe(2);
    expect(await runProgram(failing(new Error('never')), ['fail', '--help'])).toBe(0);
    expect(out).toEqual(['Usage: bulkhead fail <x>\n\nfails']);
  });

  it("answers a subcommand's --help with that subcommand's usage, and its command's otherwise", async () => {
    const never = (): Promise<void> => Promise.reject(new Error('never'));
    const build: Command = {
      summary: 'builds',
      usage: 'bulkhead pack build <dir> [--installed]',
      run: never,
    };
    const pack: Command = {
      summary: 'packs',
      usage: 'bulkhead pack build|list',
      run: never,
      subcommands: { build },
    };
    expect(await runProgram({ pack }, ['pack', 'build', '--help'])).toBe(0);
    expect(await runProgram({ pack }, ['pack', '--help'])).toBe(0);
    expect(await runProgram({ pack }, ['pack', 'frob', '--help'])).toBe(0);
    expect(out).toEqual([
      'Usage: bulkhead pack build <dir> [--installed]\n\nbuilds',
      'Usage: bulkhead pack build|list\n\npacks',
      'Usage: bulkhead pack build|list\n\npacks',
    ]);
  });
});

describe('CLI help', () => {
  it('lists every environment variable cliConfig declares, and the commands', async () => {
    expect(await runProgram(failing(new Error('never')), ['--help'])).toBe(0);
    const help = out.join('\n');
    expect(help).toMatch(/^Usage: bulkhead <command> \[options\]/);
    const variables = Object.values(cliConfig.fields).map((field) => field.env);
    expect(variables).toEqual([
      'BULKHEAD_REDIS_URL',
      'BULKHEAD_NAMESPACE',
      'BULKHEAD_DEV_DIR',
      'BULKHEAD_SECRETS_KEY_FILE',
      'BULKHEAD_AUDIT_DIR',
      'BULKHEAD_AUDIT_PUBLIC_KEY_FILE',
      'BULKHEAD_ACTOR',
    ]);
    for (const variable of variables) expect(help).toContain(`  ${variable} `);
    expect(help).toContain('  fail       fails');
  });

  it('names every command the development CLI adds to the operator commands', () => {
    const operator = Object.keys(operatorCommands());
    const added = Object.keys(devCommands()).filter((name) => !operator.includes(name));
    expect(added).toContain('console-client');
    const named = /adds the development commands ([^)]*)\)/.exec(cliConfig.usage())?.[1];
    for (const name of added) expect({ name, named }).toEqual({ name, named: expect.stringContaining(name) });
  });
});
