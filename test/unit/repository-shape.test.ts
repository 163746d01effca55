// The repository's own shape: every file short enough to read (at most 400 lines; npm locks, the
// project's and a pack's, are generated), a README that is an entry point (at most 12 KiB) leading to docs/, and documentation
// that speaks of the code, not of the tracker (no issue numbers).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const MAX_LINES = 400;
const MAX_README_BYTES = 12 * 1024;
/** Written by npm, never by hand: the project's lock and each pack fixture's. */
const isGenerated = (file: string): boolean =>
  file === 'package-lock.json' || file.endsWith('/package-lock.json');
/** Pictures (the docs' screenshots) have no lines to read. */
const isImage = (file: string): boolean => /\.(png|jpe?g|gif|webp)$/i.test(file);

const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f !== '' && existsSync(f) && statSync(f).isFile());

describe('the repository', () => {
  it(`has no file over ${MAX_LINES} lines`, () => {
    expect(files.length).toBeGreaterThan(100);
    const long = files
      .filter((f) => !isGenerated(f) && !isImage(f))
      .map((f) => ({ f, lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
      .filter(({ lines }) => lines > MAX_LINES)
      .map(({ f, lines }) => `${f}: ${lines}`);
    expect(long).toEqual([]);
  });

  it('has a README under 12 KiB that leads to docs/architecture.md', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(MAX_README_BYTES);
    expect(readme).toContain('docs/architecture.md');
    expect(existsSync('docs/architecture.md')).toBe(true);
  });

  it('names no issue numbers in the README or docs/', () => {
    const documents = [
      'README.md',
      ...readdirSync('docs')
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    const mentions = documents.flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/\bissues? #?\d+\b|(?<![\w&])#\d+\b/gi)].map(
        (m) => `${f}: ${m[0]}`,
      ),
    );
    expect(mentions).toEqual([]);
  });
});
