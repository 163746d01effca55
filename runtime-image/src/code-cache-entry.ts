// The second half of the runtime image's entry point (/app/server.mjs, runtime-entry.ts), and the
// records pack's whole entry (/opt/bulkhead/packs/records/server.mjs): loads the runtime's bundle
// (/app/runtime.cjs) with the V8 code cache the image build recorded beside it
// (/app/runtime.cjs.cache), so that a cold start does not compile the ~2 MB bundle, nor the
// functions its start-up and first health answer run, again. Node's own compile cache (NODE_COMPILE_CACHE) cannot do this here: it keys its
// directory by the process's UID, and every tenant runs under a UID of its own.
//
// The cache is data, never code that is trusted on its own: V8 accepts it only for this exact
// source and this exact V8 version and flags, and otherwise compiles the source as if there were
// none. It is root-owned and read-only like the rest of /app.
//   BULKHEAD_CODE_CACHE=off    load without the cache (the benchmark's baseline)
//   BULKHEAD_CODE_CACHE=write  record the cache when the process exits (the image build's training
//                              run, runtime-image/src/code-cache-training.ts; never at run time:
//                              /app is read-only there)
// First, before the bundle builds any zod schema: zod-jitless.ts says why.
import './zod-jitless.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, Script } from 'node:vm';

const here = dirname(fileURLToPath(import.meta.url));
const bundle = join(here, 'runtime.cjs');
const cacheFile = `${bundle}.cache`;
const mode = process.env.BULKHEAD_CODE_CACHE ?? 'on';

function cachedData(): Buffer | undefined {
  if (mode !== 'on') return undefined;
  try {
    return readFileSync(cacheFile);
  } catch {
    return undefined; // an image built without one: compile as usual
  }
}

// The CommonJS module wrapper, as Node's own loader writes it.
const script = new Script(
  `(function (exports, require, module, __filename, __dirname) {${readFileSync(bundle, 'utf8')}\n})`,
  {
    filename: bundle,
    cachedData: cachedData(),
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  },
);
// Recorded after the run: the cache then holds the functions the training compiled, not only the
// bundle's top level.
if (mode === 'write') process.once('exit', () => writeFileSync(cacheFile, script.createCachedData()));
// Said once, in the runtime's log format: a rejected cache costs start-up time, nothing else.
if (script.cachedDataRejected === true)
  console.error(
    JSON.stringify({
      level: 40,
      time: Date.now(),
      name: 'tenant-runtime',
      msg: 'code cache rejected: compiling',
    }),
  );
const module = { exports: {} };
const run = script.runInThisContext() as (...args: unknown[]) => void;
run(module.exports, createRequire(bundle), module, bundle, here);
