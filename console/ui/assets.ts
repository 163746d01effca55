// The console's front end: one script and one stylesheet, served from memory under /assets/. Nothing
// inline, so the Content-Security-Policy (console/http/http-kit.ts) can forbid inline scripts and
// styles and eval outright. Either built ahead (`node console/ui/build-assets.ts DIR`, what the
// control-plane image does, whose dependencies leave esbuild and the UI's libraries out) and read
// from BULKHEAD_CONSOLE_ASSETS_DIR, or bundled with esbuild when the console starts (a checkout).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';

export interface Asset {
  type: string;
  body: Uint8Array;
}

const ENTRY = fileURLToPath(new URL('./src/main.ts', import.meta.url));
/** What a build writes and INDEX_HTML loads. */
export const ASSET_FILES = ['main.js', 'main.css'] as const;

/** The page every console URL starts from; the script draws the rest. */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bulkhead console</title>
<link rel="stylesheet" href="/assets/main.css">
<script type="module" src="/assets/main.js"></script>
</head>
<body>
<div id="app"><main><h1>Bulkhead console</h1><p>Loading…</p></main></div>
</body>
</html>
`;

const typeOf = (name: string): string =>
  name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';

/** The front end bundled from console/ui/src (esbuild, a development dependency: imported only here). */
export async function bundleAssets(): Promise<Map<string, Asset>> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    outdir: '/assets',
    logLevel: 'silent',
    legalComments: 'none',
  });
  const assets = new Map<string, Asset>();
  for (const file of result.outputFiles) {
    const name = file.path.slice(file.path.lastIndexOf('/') + 1);
    assets.set(`/assets/${name}`, { type: typeOf(name), body: file.contents });
  }
  return assets;
}

/** The front end a build left in `dir`; a missing file is a configuration error, named. */
export async function readBuiltAssets(dir: string): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const name of ASSET_FILES) {
    const path = join(dir, name);
    const body = await readFile(path).catch((cause: NodeJS.ErrnoException) => {
      throw new BulkheadError(
        'invalid_config',
        `BULKHEAD_CONSOLE_ASSETS_DIR: cannot read ${path} (${cause.code ?? cause.message}); build it with node console/ui/build-assets.ts ${dir}`,
        { cause },
      );
    });
    assets.set(`/assets/${name}`, { type: typeOf(name), body });
  }
  return assets;
}

/** The console's assets: built ahead when `dir` is given, else bundled now. */
export function loadAssets(dir: string | undefined): Promise<Map<string, Asset>> {
  return dir === undefined ? bundleAssets() : readBuiltAssets(dir);
}
