// Development code (dev/: the development IdP, `up`, `token`, the doc generators) never reaches a
// production process or image: the production entries' import graphs hold nothing from dev/ and no
// oidc-provider (the development IdP's library), the control-plane image copies no dev/ and its
// build context does not admit it. The development entries show the check can fail.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const PRODUCTION_ENTRIES = [
  'router/main.ts',
  'supervisor/main.ts',
  'tenants/cli/main.ts',
  'console/main.ts',
  'egress/main.ts',
];
const DEVELOPMENT_ENTRIES = ['dev/idp/main.ts', 'dev/cli/main.ts'];

/** The entry's own files and the packages it imports, as esbuild resolves its import graph. */
async function graph(entry: string): Promise<{ files: string[]; packages: string[] }> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    outfile: 'out.mjs',
    packages: 'external',
  });
  const files = Object.keys(result.metafile.inputs);
  const packages = Object.values(result.metafile.outputs)
    .flatMap((output) => output.imports)
    .filter((imported) => imported.external)
    .map((imported) => imported.path);
  return { files, packages };
}

const isOidcProvider = (path: string): boolean =>
  path === 'oidc-provider' || path.startsWith('oidc-provider/');

describe('production entries', () => {
  for (const entry of PRODUCTION_ENTRIES) {
    it(`${entry} imports nothing from dev/ and no oidc-provider`, async () => {
      const { files, packages } = await graph(entry);
      expect(files.length).toBeGreaterThan(5);
      expect(files.filter((f) => f.startsWith('dev/'))).toEqual([]);
      expect(packages.filter(isOidcProvider)).toEqual([]);
    });
  }

  it('while the development entries do (the check can fail)', async () => {
    const idp = await graph(DEVELOPMENT_ENTRIES[0]!);
    expect(idp.files.some((f) => f.startsWith('dev/idp/'))).toBe(true);
    expect(idp.packages.some(isOidcProvider)).toBe(true);
    const cli = await graph(DEVELOPMENT_ENTRIES[1]!);
    expect(cli.files.some((f) => f.startsWith('dev/cli/'))).toBe(true);
  });
});

/** The sources a Dockerfile's COPY lines take from the build context (not from another stage). */
function copySources(dockerfile: string): string[] {
  const text = readFileSync(dockerfile, 'utf8');
  return [...text.matchAll(/^COPY\s+(?!--from)(.+)\s+\S+$/gm)]
    .flatMap((m) => m[1]!.split(/\s+/))
    .map((s) => s.replace(/\/$/, ''));
}

describe('the images', () => {
  it('the control-plane image copies only production rooms; the dev IdP image adds dev/', () => {
    const production = copySources('runtime-image/control-plane.Dockerfile');
    expect(production).toEqual(expect.arrayContaining(['kernel', 'router', 'supervisor', 'tenants']));
    for (const source of production) expect(source).not.toMatch(/^(dev|\.|test)$/);
    expect(copySources('runtime-image/dev-idp.Dockerfile')).toContain('dev');
  });

  it('oidc-provider is a development dependency, which the control-plane image leaves out', () => {
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    expect(lock.packages['node_modules/oidc-provider']?.dev).toBe(true);
    // What the image keeps: every package the lock does not mark dev-only.
    expect(readFileSync('runtime-image/control-plane.Dockerfile', 'utf8')).toContain('meta.dev');
  });
});
