// `apply -f FILE` refuses a tenants file that breaks the schema, or names a tool or version the
// manifest does not carry, before it connects to anything (the CLI runs against a Redis address
// nothing listens on): exit 2, the file named once, then one `<field path>: <reason>` line per
// problem, as invalid settings are reported, never zod's "✖ ... →" layout (nor, for the manifest,
// `tenant "x": tools.0.name: …` without the file).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { operatorCommands, runProgram } from '../../tenants/cli/program.ts';

let dir: string;
let err: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-apply-errors-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  err = [];
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
  vi.spyOn(console, 'error').mockImplementation((line: string) => void err.push(line));
  vi.stubEnv('BULKHEAD_REDIS_URL', 'redis://127.0.0.1:1');
  vi.stubEnv('BULKHEAD_NAMESPACE', 't-apply-errors-none');
  vi.stubEnv('BULKHEAD_DEV_DIR', dir);
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** One tenant of a valid file, with `fields` written over it (a value of undefined leaves it out). */
function tenantsFile(fields: Record<string, unknown>, top = ''): string {
  const tenant: Record<string, unknown> = {
    id: 'acme',
    displayName: 'Acme',
    plan: { name: 'small', memoryMb: 192, cpus: 0.5, pids: 64, tmpMb: 16 },
    isolation: 'runc',
    status: 'active',
    ...fields,
  };
  const lines = Object.entries(tenant)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `    ${key}: ${JSON.stringify(value)}`);
  return `apiVersion: bulkhead/v1\n${top}tenants:\n  - ${lines.join('\n').trimStart()}\n`;
}

async function apply(name: string, text: string): Promise<{ code: number; stderr: string; file: string }> {
  const file = join(dir, name);
  await writeFile(file, text);
  const code = await runProgram(operatorCommands(), ['apply', '-f', file]);
  return { code, stderr: err.join('\n'), file };
}

describe('apply -f with a file the schema refuses', () => {
  it('names the file, then each field path and its reason on a line of its own, with exit 2', async () => {
    const cases: [string, string, string[]][] = [
      [
        'wrong-type.yaml',
        tenantsFile({ plan: { name: 'small', memoryMb: 'lots', cpus: 0.5, pids: 64, tmpMb: 16 } }),
        ['tenants[0].plan.memoryMb: expected number, received string'],
      ],
      ['unknown-field.yaml', tenantsFile({ colour: 'blue' }), ['tenants[0].colour: unknown field']],
      ['unknown-top.yaml', tenantsFile({}, 'extra: 1\n'), ['extra: unknown field']],
      [
        'missing.yaml',
        tenantsFile({ displayName: undefined }),
        ['tenants[0].displayName: missing (required: string)'],
      ],
      // A field that takes one of a set of values, left out, is missing as any other field is:
      // zod said "expected one of ..." of it, as of a value given wrong (the next cases).
      [
        'missing-enum.yaml',
        tenantsFile({ isolation: undefined, egress: { hosts: [] } }),
        [
          'tenants[0].isolation: missing (required: one of "runc"|"gvisor")',
          'tenants[0].egress.mode: missing (required: one of "none"|"allowlist")',
        ],
      ],
      [
        'missing-literal.yaml',
        tenantsFile({}).replace('apiVersion: bulkhead/v1\n', ''),
        ['apiVersion: missing (required: "bulkhead/v1")'],
      ],
      [
        'out-of-range.yaml',
        tenantsFile({ retention: { auditDays: 100_000 } }),
        ['tenants[0].retention.auditDays: Too big: expected number to be <=3650'],
      ],
      [
        'several.yaml',
        tenantsFile({
          isolation: 'kvm',
          egress: { mode: 'open' },
          quotas: { callsPerMinute: 0, callsPerDay: 10 },
        }),
        [
          'tenants[0].quotas.callsPerMinute: Too small: expected number to be >=1',
          'tenants[0].isolation: expected one of "runc"|"gvisor"',
          'tenants[0].egress.mode: expected one of "none"|"allowlist"',
        ],
      ],
      // A record's key: why it is refused, in its schema's own words (zod's own line said "Invalid key
      // in record"; a copy of the pack name's schema without them, its pattern), and an
      // empty one named as such (zod's path wrote it as nothing: "tenants[0].roles.").
      [
        'record-key.yaml',
        tenantsFile({ egress: { mode: 'allowlist', packs: { 'Bad Name': { hosts: [] } } } }),
        [
          'tenants[0].egress.packs["Bad Name"]: invalid key: a pack name is 2-31 characters of a-z, 0-9 and "-", starting with a letter',
        ],
      ],
      [
        'empty-key.yaml',
        tenantsFile({ roles: { '': ['search'] } }),
        ['tenants[0].roles[""]: invalid key: Too small: expected string to have >=1 characters'],
      ],
    ];
    for (const [name, text, lines] of cases) {
      err = [];
      const result = await apply(name, text);
      expect({ name, code: result.code, stderr: result.stderr }).toEqual({
        name,
        code: 2,
        stderr: `error: invalid tenants file ${result.file}:\n  ${lines.join('\n  ')}`,
      });
    }
  });

  it("names each tool the manifest does not carry as a field of the file, the tenant's place in it", async () => {
    const second = tenantsFile({
      id: 'beta',
      tools: [
        { name: 'whoami', version: '1.0.0' },
        { name: 'whoami', version: '9.9.9' },
      ],
      quotas: { callsPerMinute: 60, callsPerDay: 1000, tools: { 'shell.exec': 5 } },
    }).split('tenants:\n')[1];
    const text = tenantsFile({ tools: [{ name: 'shell_exec', version: '1.0.0' }] }) + second;
    const result = await apply('unknown-tools.yaml', text);
    expect(result).toEqual({
      code: 2,
      file: result.file,
      stderr: [
        `error: invalid tenants file ${result.file}:`,
        '  tenants[0].tools[0].name: unknown tool "shell_exec"',
        '  tenants[1].tools[1].version: tool "whoami" has no version 9.9.9 in the manifest (it carries 1.0.0)',
        '  tenants[1].tools[1].name: tool "whoami" listed twice',
        '  tenants[1].quotas.tools["shell.exec"]: unknown tool "shell.exec" (a per-tool quota names a tool)',
      ].join('\n'),
    });
  });
});
