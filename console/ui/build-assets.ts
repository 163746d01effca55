// Builds the console's front end ahead of time into a directory (main.js, main.css), for a console
// run where esbuild and the UI's libraries are not installed: the control-plane image builds it in
// its first stage and points BULKHEAD_CONSOLE_ASSETS_DIR at the result (runtime-image/
// control-plane.Dockerfile).
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ASSET_FILES, bundleAssets } from './assets.ts';

const USAGE = `usage: node console/ui/build-assets.ts DIR

Bundles console/ui/src with esbuild into DIR (${ASSET_FILES.join(', ')}), created if missing.
Run the console with BULKHEAD_CONSOLE_ASSETS_DIR=DIR to serve them instead of bundling at start.`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE);
} else if (args.length !== 1 || args[0]!.startsWith('-')) {
  console.error(USAGE);
  process.exitCode = 2;
} else {
  const dir = resolve(args[0]!);
  const assets = await bundleAssets();
  await mkdir(dir, { recursive: true });
  for (const name of ASSET_FILES) {
    const asset = assets.get(`/assets/${name}`);
    if (!asset) throw new Error(`esbuild wrote no ${name}`);
    await writeFile(join(dir, name), asset.body);
    console.log(`${join(dir, name)}: ${asset.body.byteLength} bytes`);
  }
}
