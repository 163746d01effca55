// The files and directories an operator names on the CLI (--out, -f, --dir, --public-key,
// --audit-dir), run as an operator runs it: a path the system refuses (a parent that is a file, a
// file where a directory goes, a directory where a file goes, no such file, no permission) is one
// line naming the path and why, with the exit code of bad input (2), never Node's raw
// "ENOTDIR: not a directory, mkdir '...'" and exit 1. Offboarding checks its export directory
// before it changes anything.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { runCli, runCommand } from '../support/cli.ts';
import { REDIS_URL, testNamespace, type TestNamespace } from '../support/namespace.ts';

let ns: TestNamespace;
let dir: string;
let file: string;
let redis: Redis;
let registry: TenantRegistry;

const cli = (...args: string[]) =>
  runCli(
    { namespace: ns.namespace, devDir: join(dir, 'dev'), extra: { BULKHEAD_REDIS_URL: REDIS_URL } },
    args,
    {
      timeoutMs: 30_000,
    },
  );

/**
 * The CLI as a user without write permission on a 0500 directory: root writes anywhere, so a test
 * run as root runs it as nobody (65534), as an operator without the rights would.
 */
function cliWithoutRights(...args: string[]) {
  const command = [process.execPath, 'tenants/cli/main.ts', ...args];
  const env = { ...process.env, BULKHEAD_NAMESPACE: ns.namespace, BULKHEAD_DEV_DIR: join(dir, 'dev') };
  return process.getuid?.() === 0
    ? runCommand('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...command], { env })
    : runCommand(command[0]!, command.slice(1), { env });
}

beforeAll(async () => {
  ns = await testNamespace('cli-paths');
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-cli-paths-'));
  await chmod(dir, 0o755);
  file = join(dir, 'a-file');
  await writeFile(file, 'not a directory\n');
  redis = new Redis(ns.installation.redis);
  registry = new TenantRegistry({ redis, prefix: ns.installation.registryPrefix });
});

afterAll(async () => {
  redis?.disconnect();
  await ns?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe('paths the CLI is given', () => {
  it('refuses a key directory it cannot write, naming the path and why, with exit 2', async () => {
    const taken = join(dir, 'taken');
    await mkdir(join(taken, 'call-assertion.key'), { recursive: true });
    const cases: [string[], string][] = [
      [
        ['keygen', '--out', join(file, 'keys')],
        `--out ${file}/keys: cannot write it: ${file} is not a directory (ENOTDIR)`,
      ],
      [['keygen', '--out', file], `--out ${file}: cannot write it: it is a file, not a directory (EEXIST)`],
      [
        ['keygen', '--out', taken],
        `--out ${taken}: cannot write ${taken}/call-assertion.key: it is a directory (EISDIR)`,
      ],
      [
        ['audit', 'keygen', '--out', join(file, 'audit')],
        `--out ${file}/audit: cannot write it: ${file} is not a directory (ENOTDIR)`,
      ],
    ];
    for (const [argv, line] of cases)
      expect({ argv, ...(await cli(...argv)) }).toMatchObject({ argv, code: 2, stderr: `error: ${line}\n` });
  });

  it('refuses a key directory the user may not write to', async () => {
    const locked = join(dir, 'locked');
    await mkdir(locked, { mode: 0o500 });
    await chmod(locked, 0o500);
    const result = await cliWithoutRights('keygen', '--out', join(locked, 'keys'));
    expect([result.code, result.stderr]).toEqual([
      2,
      `error: --out ${locked}/keys: cannot write it: permission denied (EACCES)\n`,
    ]);
  });

  it('refuses a file to read or write that is missing, a directory, or under a file', async () => {
    const cases: [string[], string][] = [
      [
        ['apply', '-f', join(dir, 'none.yaml')],
        `-f ${dir}/none.yaml: cannot read it: no such file or directory (ENOENT)`,
      ],
      [['apply', '-f', dir], `-f ${dir}: cannot read it: it is a directory (EISDIR)`],
      [
        ['export', '--out', join(file, 'tenants.yaml')],
        `--out ${file}/tenants.yaml: cannot write it: ${file} is not a directory (ENOTDIR)`,
      ],
      [['export', '--out', dir], `--out ${dir}: cannot write it: it is a directory (EISDIR)`],
      [
        ['audit', 'verify', '--dir', dir, '--public-key', join(dir, 'none.pub')],
        `${dir}/none.pub: cannot read it: no such file or directory (ENOENT)`,
      ],
      [['audit', 'verify', '--dir', file, '--public-key', file], `${file}: not a public key (SPKI PEM)`],
    ];
    for (const [argv, line] of cases)
      expect({ argv, ...(await cli(...argv)) }).toMatchObject({ argv, code: 2, stderr: `error: ${line}\n` });
  });

  it('refuses an audit --dir that is a file as no audit directory', async () => {
    const keys = join(dir, 'audit-keys');
    expect((await cli('audit', 'keygen', '--out', keys)).code).toBe(0);
    const result = await cli(
      'audit',
      'verify',
      '--dir',
      file,
      '--public-key',
      join(keys, 'audit-signing.pub'),
    );
    expect([result.code, result.stderr]).toEqual([
      2,
      `error: ${file}: not a directory (an audit directory holds segment files)\n`,
    ]);
  });

  it('refuses an offboarding whose export directory cannot be written before it changes the tenant', async () => {
    await registry.create({ id: 'oscar', plan: planByName('small'), isolation: 'runc' }, { actor: 'seed' });
    const before = await registry.require('oscar');
    const result = await cli('offboard', 'oscar', '--yes', '--audit-dir', join(file, 'exports'));
    expect([result.code, result.stderr]).toEqual([
      2,
      `error: ${file}/exports: cannot write it: ${file} is not a directory (ENOTDIR)\n`,
    ]);
    // Not drained: still active, the same generation, its runtime never asked to go.
    expect(await registry.require('oscar')).toEqual(before);
  });
});
