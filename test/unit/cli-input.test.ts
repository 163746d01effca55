// What an operator mistypes is refused with exit 2 before anything is read or written: every command
// runs against a Redis address nothing listens on, so one that got past its arguments would fail to
// connect (exit 1, "cannot reach Redis") instead. The refusal names what was wrong and what is
// accepted, and the usage it prints is that of the subcommand the operator typed.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { runProgram } from '../../tenants/cli/program.ts';
import { devCommands } from '../../dev/cli/dev-commands.ts';

let out: string[];
let err: string[];
let devDir: string;

beforeAll(async () => {
  devDir = await mkdtemp(join(tmpdir(), 'bulkhead-cli-input-'));
});

afterAll(async () => {
  await rm(devDir, { recursive: true, force: true });
});

beforeEach(() => {
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  vi.spyOn(console, 'error').mockImplementation((line: string) => void err.push(line));
  vi.stubEnv('BULKHEAD_REDIS_URL', 'redis://127.0.0.1:1');
  vi.stubEnv('BULKHEAD_NAMESPACE', 't-cli-input-none');
  vi.stubEnv('BULKHEAD_DEV_DIR', devDir);
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

/** Runs the development CLI (every operator command and the development ones): exit code, stderr. */
async function run(argv: string[]): Promise<{ code: number; stderr: string }> {
  err = [];
  const code = await runProgram(devCommands(), argv);
  return { code, stderr: err.join('\n') };
}

const ID_RULE = 'tenant id must be 3-32 characters of a-z, 0-9 and "-"';

describe('CLI input', () => {
  it('refuses what is not a tenant id before it connects, wherever a tenant id goes', async () => {
    const cases: [string[], string][] = [
      [['show', 'Bad Id'], `error: "Bad Id": ${ID_RULE}`],
      [['onboard', 'Acme!'], `error: "Acme!": ${ID_RULE}`],
      [['suspend', '42'], `error: "42": ${ID_RULE}`],
      [['quota', 'x y'], `error: "x y": ${ID_RULE}`],
      [['offboard', 'BAD', '--yes'], `error: "BAD": ${ID_RULE}`],
      [['history', 'BAD'], `error: "BAD": ${ID_RULE}`],
      [['export', 'acme', 'BAD'], `error: "BAD": ${ID_RULE}`],
      [['verify', 'acme', '--router', '--intruder', 'BAD'], `error: --intruder BAD: ${ID_RULE}`],
      [['token', '--tenant', 'BAD'], `error: --tenant BAD: ${ID_RULE}`],
    ];
    for (const [argv, message] of cases)
      expect({ argv, ...(await run(argv)) }).toEqual({
        argv,
        code: 2,
        stderr: expect.stringContaining(message),
      });
  });

  it('says which option is unknown, lacks its value, takes none or is given twice, in words of its own', async () => {
    const cases: [string[], string][] = [
      [['onboard', 'acme', '--bogus'], 'error: unknown option --bogus\n'],
      [['apply', '-f'], 'error: --file needs a value\n'],
      [['onboard', 'acme', '--no-verify=yes'], 'error: --no-verify takes no value\n'],
      [
        ['update', 'acme', '--calls-per-minute', '-5'],
        'error: --calls-per-minute needs a value (one that starts with "-" is written --calls-per-minute=VALUE)\n',
      ],
      // parseArgs keeps the last of two silently: which one the operator meant is not the CLI's guess.
      [
        ['onboard', 'acme', '--plan', 'small', '--plan', 'standard'],
        'error: --plan is given more than once\n',
      ],
      [
        ['offboard', 'acme', '--audit-dir', 'a', '--audit-dir', 'b', '--yes'],
        '--audit-dir is given more than once',
      ],
    ];
    for (const [argv, message] of cases)
      expect({ argv, ...(await run(argv)) }).toEqual({
        argv,
        code: 2,
        stderr: expect.stringContaining(message),
      });
    // An option that may be repeated still may.
    expect(
      (await run(['onboard', 'acme', '--issuer', 'https://a.example', '--issuer', 'https://b.example'])).code,
    ).toBe(1);
  });

  it('checks option values before it connects, and takes no empty value for "no change"', async () => {
    const cases: [string[], string][] = [
      [
        ['upstream', 'stripe', '--calls-per-minute', '0'],
        '--calls-per-minute takes a whole number of calls (1 or more), not "0"',
      ],
      [['upstream', 'stripe', '--calls-per-minute', '2000000'], 'from 1 to 1000000, not 2000000'],
      [['upstream', 'Bad name!', '--remove'], 'invalid upstream name "Bad name!"'],
      [['onboard', 'acme', '--issuer', 'not-a-url'], '--issuer not-a-url is not a URL'],
      [['update', 'acme', '--issuer', 'not-a-url'], '--issuer not-a-url is not a URL'],
      [['update', 'acme', '--plan', ''], 'unknown plan "": choose one of small, standard'],
      [['update', 'acme', '--pack', 'Files@1.0.0'], '"Files@1.0.0": a pack name is 2-31 characters'],
      [['pack', 'approve', 'files'], '"files": name a pack version as NAME@VERSION'],
      // Without --router nothing attacks: an --intruder there would be dropped without a word.
      [
        ['verify', 'acme', '--intruder', 'other'],
        '--intruder names the tenant whose agent attacks in verify --router',
      ],
    ];
    for (const [argv, message] of cases) {
      const result = await run(argv);
      expect({ argv, ...result }).toEqual({ argv, code: 2, stderr: expect.stringContaining(message) });
      expect(result.stderr).not.toContain('✖');
    }
  });

  it('refuses a pack directory that is none before it connects, naming the path and why', async () => {
    const file = join(devDir, 'a-file');
    await writeFile(file, 'not a pack\n');
    const empty = join(devDir, 'empty-pack');
    const cases: [string, string][] = [
      [
        join(devDir, 'nowhere'),
        `error: ${join(devDir, 'nowhere')}: cannot read it: no such file or directory (ENOENT)`,
      ],
      [file, `error: ${file}: cannot read it: ${file} is not a directory (ENOTDIR)`],
      // A directory without a manifest: its input missing, as a missing directory is (it was a
      // refused pack, exit 1).
      [
        empty,
        `error: ${join(empty, 'bulkhead-pack.json')}: cannot read it: no such file or directory (ENOENT)`,
      ],
    ];
    await mkdir(empty, { recursive: true });
    for (const [dir, stderr] of cases)
      expect({ dir, ...(await run(['pack', 'build', dir])) }).toEqual({ dir, code: 2, stderr });
    // A manifest there but not JSON: the pack refused (exit 1), before connecting too.
    await writeFile(join(empty, 'bulkhead-pack.json'), '{');
    expect(await run(['pack', 'build', empty])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: bulkhead-pack\.json: not JSON: /),
    });
  });

  it('takes only its own commands and subcommands as names, and suggests the one a typo meant', async () => {
    for (const argv of [
      ['constructor'],
      ['toString', '--help'],
      ['pack', 'constructor'],
      ['audit', '__proto__'],
    ])
      expect({ argv, ...(await run(argv)) }).toEqual({
        argv,
        code: 2,
        stderr: expect.stringMatching(/^error: unknown /),
      });
    expect((await run(['pack', 'biuld'])).stderr).toContain(
      'error: unknown subcommand "pack biuld": use one of build, approve, list, history',
    );
    expect((await run(['onbaord', 'acme'])).stderr).toMatch(
      /^error: unknown command "onbaord" \(did you mean "onboard"\?\)/,
    );
    expect((await run(['frobnicate'])).stderr).toMatch(/^error: unknown command "frobnicate"\n/);
  });

  it("prints a subcommand's own usage with its refusal and its --help", async () => {
    expect((await run(['pack', 'build'])).stderr).toBe(
      'error: pack build takes exactly one directory\nusage: bulkhead pack build <dir> [--installed]  ' +
        '(--installed: you ran "npm ci --omit=dev --ignore-scripts" there; checked against the lockfile, not run here)',
    );
    expect((await run(['audit', 'keygen'])).stderr).toBe(
      'error: audit keygen needs --out <dir>\nusage: bulkhead audit keygen --out DIR',
    );
    expect(await runProgram(devCommands(), ['audit', 'verify', '--help'])).toBe(0);
    expect(out.join('\n')).toMatch(
      /^Usage: bulkhead audit verify <tenant-id> \| --dir DIR {2}\[--created-at ISO-TIME\] \[--public-key FILE\]\n\n\S/,
    );
    expect(out.join('\n')).not.toContain('audit export');
  });

  it('lines every command summary up in one column, the longest name too', async () => {
    expect(await runProgram(devCommands(), ['--help'])).toBe(0);
    const rows = out
      .join('\n')
      .split('\n')
      .filter((line) => /^ {2}(up|list|console-client) /.test(line));
    expect(rows).toHaveLength(3);
    const columns = rows.map((row) => /^ {2}\S+ +/.exec(row)![0].length);
    expect(new Set(columns).size).toBe(1);
  });
});
