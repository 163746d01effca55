// The tenant runtime's entry sets zod to parse without generating code
// (runtime-image/src/zod-jitless.ts). That rests on zod reading a global it only creates when it is
// absent: each case runs in a fresh Node process, counts the functions zod builds with
// `new Function` while it parses, and reads back zod's own settings.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const JITLESS = fileURLToPath(new URL('../../runtime-image/src/zod-jitless.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const PROBE = `
let made = 0;
const Real = Function;
globalThis.Function = new Proxy(Real, { construct: (t, a) => { made += 1; return Reflect.construct(t, a); } });
if (process.env.PRELOAD) await import(process.env.PRELOAD);
const { z } = await import('zod');
const schema = z.object({ name: z.string(), size: z.number(), tags: z.array(z.string()) });
for (let i = 0; i < 3; i++) schema.parse({ name: 'n' + i, size: i, tags: ['a'] });
const refused = schema.safeParse({ name: 1 }).success;
console.log(JSON.stringify({ made, jitless: z.config().jitless === true, refused }));
`;

function probe(preload?: string): { made: number; jitless: boolean; refused: boolean } {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', PROBE], {
    cwd: ROOT,
    env: { ...process.env, ...(preload ? { PRELOAD: preload } : {}) },
    encoding: 'utf8',
  });
  return JSON.parse(out.trim()) as { made: number; jitless: boolean; refused: boolean };
}

describe('zod in the tenant runtime', () => {
  it('builds parsers with new Function when nothing is set (the case the entry changes)', () => {
    const plain = probe();
    expect(plain.jitless).toBe(false);
    expect(plain.made).toBeGreaterThan(0);
  });

  it('builds none once zod-jitless.ts ran first, and still refuses what the schema does not allow', () => {
    const jitless = probe(JITLESS);
    expect(jitless).toEqual({ made: 0, jitless: true, refused: false });
  });
});
