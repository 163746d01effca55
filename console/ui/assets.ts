// The console's front end, bundled with esbuild when the console starts: one script and one
// stylesheet, served from memory under /assets/. Nothing inline, so the Content-Security-Policy
// (console/http/http-kit.ts) can forbid inline scripts and styles and eval outright.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface Asset {
  type: string;
  body: Uint8Array;
}

const ENTRY = fileURLToPath(new URL('./src/main.ts', import.meta.url));

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

export async function bundleAssets(): Promise<Map<string, Asset>> {
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
    const type = name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
    assets.set(`/assets/${name}`, { type, body: file.contents });
  }
  return assets;
}
