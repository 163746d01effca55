// What the code and the docs say must hold in this repository: every file they cite exists here,
// and the figures the README and docs/ state are the ones the code uses (read from the code, so a changed
// constant fails this test until the words follow).
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
      `\`${p.name}\` = ${p.memoryMb} MiB, ${p.cpus} CPU, ${p.pids} PIDs, ${p.tmpMb} MiB \`/tmp\``;
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
