// The reference pack started first thing in the runtime image's entry (runtime-entry.ts), before
// the runtime's bundle is loaded: the pack's start-up (its launcher, Node, its bundle, its store)
// then runs on the second core while the first loads the runtime, inside the CPU period's first
// second, instead of after it. The pack host adopts the process only if it was launched exactly as
// the host would launch it (prestarted.ts); the runtime's start makes every check it makes
// without this (the configuration, the manifest against the router's definitions), and exits,
// killing the process, where one fails. So this file decides nothing: where anything here is not
// as it expects (a variable it cannot read like the configuration would), it starts nothing and
// the runtime starts the pack as before.
//
// What has to happen before the pack first opens its store happens here too, in the same order as
// in the runtime's start: the pack's directories (mode 0700) and the legacy records database's move
// (legacy-records.ts). The pack runs confined exactly as always: the same launcher (Landlock), argv
// and environment (pack-launch.ts). Small and without zod: this bundle is loaded before the cached
// runtime, so its own compile time comes first.
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  IDEMPOTENCY_WINDOW_DEFAULT_MS,
  IDEMPOTENCY_WINDOW_MIN_MS,
} from '../../../kernel/config/idempotency-window.ts';
import { PACK_MANIFEST_FILE, PACKS_DIR, REFERENCE_PACK } from '../../../kernel/packs/pack-paths.ts';
import { CONTAINER_DATA_DIR } from '../../../kernel/wire/container-paths.ts';
import { moveLegacyRecords } from './legacy-records.ts';
import { CONFINE_SCRIPT, PACK_CONFINEMENTS, type PackConfinementMode } from './pack-confinement.ts';
import { makePackDirs, packDirs, packLaunch, spawnPack } from './pack-launch.ts';
import { discardPrestarted, offerPrestarted } from './prestarted.ts';

/** A variable as the configuration reads it (runtime-image/src/config.ts), else undefined: unsure. */
function setting(name: string, fallback: string): string | undefined {
  const value = process.env[name];
  if (value === undefined) return fallback;
  return value.length > 0 ? value : undefined;
}

function windowMs(): number | undefined {
  const raw = process.env.BULKHEAD_IDEMPOTENCY_WINDOW_MS;
  if (raw === undefined) return IDEMPOTENCY_WINDOW_DEFAULT_MS;
  const ms = Number(raw);
  return Number.isSafeInteger(ms) && ms >= IDEMPOTENCY_WINDOW_MIN_MS ? ms : undefined;
}

/** The manifest's command when it is the reference pack's manifest with a command of strings. */
function manifestCommand(packDir: string): string[] | undefined {
  const manifest = JSON.parse(readFileSync(join(packDir, PACK_MANIFEST_FILE), 'utf8')) as {
    name?: unknown;
    command?: unknown;
  };
  const { name, command } = manifest;
  if (name !== REFERENCE_PACK || !Array.isArray(command) || command.length === 0) return undefined;
  return command.every((arg) => typeof arg === 'string') ? command : undefined;
}

export function prestartReferencePack(): void {
  // --help loads the runtime to print its usage; a runtime without its identity exits at once.
  if (process.argv.includes('--help') || process.argv.includes('-h')) return;
  if (!process.env.BULKHEAD_TENANT_ID || !process.env.BULKHEAD_ROUTER_PUBLIC_KEY) return;
  const dataDir = setting('BULKHEAD_DATA_DIR', CONTAINER_DATA_DIR);
  const packDir = setting('BULKHEAD_RECORDS_PACK_DIR', `${PACKS_DIR}/${REFERENCE_PACK}`);
  const mode = setting('BULKHEAD_PACK_CONFINEMENT', 'landlock') as PackConfinementMode | undefined;
  const window = windowMs();
  if (!dataDir || !packDir || !mode || !PACK_CONFINEMENTS.includes(mode) || !window) return;
  const command = manifestCommand(packDir);
  if (!command) return;
  mkdirSync(dataDir, { recursive: true });
  const moved = moveLegacyRecords(dataDir, REFERENCE_PACK);
  const dirs = packDirs(dataDir, join(tmpdir(), 'packs'), REFERENCE_PACK);
  makePackDirs(dirs);
  const launch = packLaunch({
    pack: { name: REFERENCE_PACK, command: [...command, `--idempotency-window-ms=${window}`], secrets: [] },
    packDir,
    ...dirs,
    egressPort: undefined,
    confinement: { mode, script: CONFINE_SCRIPT },
    secrets: {},
    proxyEnv: {},
  });
  offerPrestarted(launch, spawnPack(launch), moved);
  // Whatever way the runtime ends before adopting it (a refused configuration or manifest), the
  // process goes with it.
  process.once('exit', () => discardPrestarted());
}
