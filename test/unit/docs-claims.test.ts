// What the code and the docs say must hold in this repository: every file they cite exists here,
// the figures the README and docs/ state are the ones the code uses (read from the code, so a changed
// constant fails this test until the words follow), and every CLI command line they show names a
// command of the CLI it runs, with flags its usage names (test/unit/cli-usage.test.ts: the usage is
// what the command parses).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GVISOR_PIDS_HEADROOM } from '../../supervisor/docker/container-spec.ts';
import { PIDS_SATURATION } from '../../supervisor/lifecycle/health-monitor.ts';
import { PLANS } from '../../kernel/tenant/tenant-spec.ts';
import { ERROR_CODES } from '../../kernel/errors/error-codes.ts';
import {
  LOOKUP_DEADLINE_MS,
  MAX_LOOKUPS_PER_TENANT,
  MAX_WAITING_LOOKUPS_PER_TENANT,
} from '../../egress/name-lookup.ts';
import { operatorCommands } from '../../tenants/cli/program.ts';
import { devCommands } from '../../dev/cli/dev-commands.ts';
import type { Command } from '../../tenants/cli/command-kit.ts';

const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f !== '' && existsSync(f));
const texts = files.filter(
  (f) => /\.(ts|md|cjs|js|yml|yaml|sh)$|Dockerfile$|^\.ci\//.test(f) && f !== 'package-lock.json',
);
const names = new Set(files.map((f) => basename(f)));
/** Build outputs that scripts name but the repository does not hold. */
const GENERATED = ['runtime-image/dist'];
const PATH =
  /(?<![\w./$@-])((?:kernel|router|supervisor|tenants|dev|runtime-image|test|docs|\.ci)\/[\w./-]*[\w])/g;
const DOCUMENT = /(?<![\w./-])([\w-]+\.md)\b/g;

function citations(pattern: RegExp, exists: (cited: string) => boolean): string[] {
  return texts.flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(pattern)]
      .map((m) => m[1]!)
      .filter((cited) => !exists(cited))
      .map((cited) => `${file} cites ${cited}`),
  );
}

// The README and the documents it leads to: a figure may be stated in any of them.
const readme = [
  'README.md',
  ...readdirSync('docs')
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
]
  .map((file) => readFileSync(file, 'utf8'))
  .join('\n');

describe('citations', () => {
  it('every repository path named in code, docs and scripts exists', () => {
    expect(texts.length).toBeGreaterThan(100);
    expect(citations(PATH, (p) => existsSync(p) || GENERATED.some((g) => p.startsWith(g)))).toEqual([]);
  });

  it('every document named by file name is in the repository (no outside design notes)', () => {
    expect(citations(DOCUMENT, (name) => names.has(name))).toEqual([]);
    expect(existsSync('docs/architecture.md')).toBe(true);
  });
});

describe('documented figures come from the code', () => {
  it('the fork-bomb share of the PIDs limit', () => {
    const stated = [...readme.matchAll(/PIDs at (\d+) % of the limit/g)].map((m) => Number(m[1]));
    expect(stated.length).toBeGreaterThan(0);
    expect(new Set(stated)).toEqual(new Set([Math.round(PIDS_SATURATION * 100)]));
  });

  it("gVisor's PIDs headroom", () => {
    expect(readme).toContain(`the PIDs limit gets ${GVISOR_PIDS_HEADROOM} of headroom`);
  });

  it('the plans', () => {
    const { small, standard } = PLANS;
    const plan = (p: typeof small | typeof standard) =>
      `\`${p.name}\` = ${p.memoryMb} MiB, ${p.cpus} CPU, ${p.pids} PIDs, ${p.tmpMb} MiB \`/tmp\`, a ${p.diskMb} MiB disk`;
    expect(readme.replace(/\s+/g, ' ')).toContain(`${plan(small)}; ${plan(standard)}`);
  });

  it("the CLI's exit codes: every one the error table gives, with the codes that give it", () => {
    const line = /^Exit codes \(from `kernel\/errors\/error-codes.ts`\): ([^]*?\.)\n/m
      .exec(readFileSync('docs/operations.md', 'utf8'))?.[1]
      ?.replace(/\s+/g, ' ');
    expect(line).toBeDefined();
    const exits = new Map<number, string[]>();
    for (const [code, row] of Object.entries(ERROR_CODES) as [string, { exit?: number }][])
      if (row.exit !== undefined) exits.set(row.exit, [...(exits.get(row.exit) ?? []), code]);
    for (const [exit, codes] of exits)
      expect({ exit, codes, line }).toMatchObject({
        line: expect.stringMatching(new RegExp(`(^|, )${exit} `)),
      });
    expect(line).toContain('a pack version not approved'); // pack_not_approved, exit 3
  });

  it("the egress gateway's bounds on name resolution", () => {
    const text = readme.replace(/\s+/g, ' ');
    for (const stated of [
      `resolve within ${LOOKUP_DEADLINE_MS / 1000} s (\`LOOKUP_DEADLINE_MS\`)`,
      `at most ${MAX_LOOKUPS_PER_TENANT} lookup in flight at once (\`MAX_LOOKUPS_PER_TENANT\`)`,
      `at most ${MAX_WAITING_LOOKUPS_PER_TENANT} of them (\`MAX_WAITING_LOOKUPS_PER_TENANT\``,
      `holds ${MAX_LOOKUPS_PER_TENANT} lookup thread, not all of them`,
    ])
      expect(text).toContain(stated);
  });
});

describe('documented CLI invocations are ones the CLI takes', () => {
  const operator = operatorCommands();
  const dev = devCommands();
  /** The entry that runs it: the operator CLI's refuse the development commands (up, token, ...). */
  const OPERATOR_ENTRY = /^(?:node tenants\/cli\/main\.ts|npm run bulkhead --|docker-compose run --rm cli)$/;
  const INVOCATION =
    /(bulkhead|node tenants\/cli\/main\.ts|node dev\/cli\/main\.ts|npm run bulkhead --|docker-compose run --rm cli) ([a-z][a-z-]*)(?=[\s`]|$)([^`\n]*)/g;
  /** Code spans that start like an invocation and are none: the HKDF label of sealed idempotency records. */
  const NOT_INVOCATIONS = ['bulkhead idempotency records v1'];
  const usageOf = (command: Command) =>
    [command.usage, ...Object.values(command.subcommands ?? {}).map((sub) => sub.usage)].join('\n');

  /** What is wrong with one invocation: an unknown command, or a flag its usage does not name. */
  function problems(entry: string, name: string, rest: string): string[] {
    const commands = OPERATOR_ENTRY.test(entry) ? operator : dev;
    const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
    if (!command) return [`${entry} ${name}: no such command`];
    const usage = usageOf(command);
    return [...rest.replace(/"[^"]*"/g, '').matchAll(/(?<![\w-])(--[a-z][a-z-]*)/g)]
      .map((m) => m[1]!)
      .filter((flag) => !usage.includes(flag))
      .map((flag) => `${entry} ${name}: ${flag} is not in its usage`);
  }

  it('in code spans and code blocks of the README and docs/', () => {
    const found: string[] = [];
    let checked = 0;
    for (const file of ['README.md', ...readdirSync('docs').map((f) => `docs/${f}`)].filter((f) =>
      f.endsWith('.md'),
    )) {
      const text = readFileSync(file, 'utf8');
      // Code: fenced blocks (indented too, in a list) and inline spans; prose ("bulkhead keeps one") is not an invocation.
      const code = [
        ...[...text.matchAll(/^ *```[^\n]*\n([^]*?)^ *```/gm)].map((m) => m[1]!),
        ...[...text.replace(/^ *```[^]*?^ *```/gm, '').matchAll(/`([^`\n]+)`/g)]
          .map((m) => m[1]!)
          // A span that is a command line; prose and labels that start with the name are not.
          .filter((span) => /^(?:[A-Z_]+=\S+ )*(?:bulkhead|node|npm|docker-compose) /.test(span))
          .filter((span) => !NOT_INVOCATIONS.includes(span)),
      ];
      for (const piece of code)
        for (const [, entry, name, rest] of piece.matchAll(INVOCATION)) {
          checked++;
          found.push(...problems(entry!, name!, rest!).map((p) => `${file}: ${p}`));
        }
    }
    expect(checked).toBeGreaterThan(30);
    expect(found).toEqual([]);
  });

  it("in docs/operations.md's command tables, each under the CLI it names", () => {
    // The rows of the tables whose first column is "command" (not the IdP requirements' table).
    const rows: string[] = [];
    let commandTable = false;
    for (const line of readFileSync('docs/operations.md', 'utf8').split('\n')) {
      if (!line.startsWith('|')) commandTable = false;
      else if (/^\| command /.test(line)) commandTable = true;
      else if (commandTable && line.startsWith('| `')) rows.push(line);
    }
    const found: string[] = [];
    for (const row of rows) {
      const [cell, description] = row.split(/(?<!\\)\|/).slice(1, 3) as [string, string];
      const entry = description.includes('(development CLI)') ? 'bulkhead' : 'node tenants/cli/main.ts';
      for (const [, span] of cell.replace(/\\\|/g, '|').matchAll(/`([^`]+)`/g)) {
        const [name = '', ...rest] = span!.split(' ');
        found.push(...problems(entry, name, rest.join(' ')));
      }
    }
    expect(rows.length).toBeGreaterThan(15);
    expect(found).toEqual([]);
  });
});
