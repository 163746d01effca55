// How a pack process is launched: its argv (the confined launcher, then the pack's command), its
// environment (exactly the pack's own variables, nothing inherited) and its working directory, and
// the two directories it gets. One function for the pack host and for the image entry's early start
// of the reference pack (reference-prestart.ts): the entry's process is adopted only when what it
// launched is exactly this (prestarted.ts). No zod here: the entry's bundle stays small.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { PACK_WORK_SUBDIR } from '../../../kernel/packs/pack-paths.ts';
import { confinedArgv, type PackConfinement } from './pack-confinement.ts';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface PackLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

export interface PackLaunchOptions {
  pack: { name: string; command: string[]; secrets: string[] };
  /** The pack's files in the image: relative paths of its command resolve here. */
  packDir: string;
  /** Its own directory on the tenant's volume: working directory and HOME. */
  workDir: string;
  /** Its own temporary directory (TMPDIR). */
  tmpDir: string;
  /** Its own port of the egress bridge, the only TCP port it may connect to; none: no TCP at all. */
  egressPort: number | undefined;
  confinement: PackConfinement;
  secrets: Record<string, string>;
  /** HTTP(S)_PROXY naming the pack's own egress bridge port (runtime-image/src/egress-bridge.ts). */
  proxyEnv: Record<string, string>;
}

/** A pack's own directories: on the tenant's volume (its work) and under the runtime's temp. */
export function packDirs(
  dataDir: string,
  tmpRoot: string,
  name: string,
): { workDir: string; tmpDir: string } {
  return { workDir: join(dataDir, PACK_WORK_SUBDIR, name), tmpDir: join(tmpRoot, name) };
}

/** Creates them, mode 0700 also where they existed: no other pack's UID-mate may look in. */
export function makePackDirs(dirs: { workDir: string; tmpDir: string }): void {
  for (const dir of [dirs.workDir, dirs.tmpDir]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }
}

/**
 * The confined launcher, then the pack's command with relative paths that name a file of the
 * pack resolved against the pack's directory; the pack's own variables and its declared secrets.
 */
export function packLaunch(options: PackLaunchOptions): PackLaunch {
  const { pack, packDir, workDir, tmpDir, egressPort, confinement, secrets } = options;
  const command = pack.command.map((arg) =>
    !isAbsolute(arg) && !arg.startsWith('-') && existsSync(join(packDir, arg)) ? join(packDir, arg) : arg,
  );
  const [launcher, ...args] = confinedArgv(confinement, { packDir, workDir, tmpDir, egressPort }, command);
  const env: Record<string, string> = {
    PATH,
    HOME: workDir,
    TMPDIR: tmpDir,
    BULKHEAD_PACK: pack.name,
    // The pack's own port of the egress bridge: ordinary HTTP clients go through the gateway.
    ...options.proxyEnv,
  };
  for (const name of pack.secrets) {
    const value = secrets[name];
    if (value !== undefined) env[name] = value;
  }
  return { command: launcher!, args, env, cwd: workDir };
}

/** Starts it; detached: the pack leads a process group of its own, so a kill reaches its descendants. */
export function spawnPack(launch: PackLaunch): ChildProcessWithoutNullStreams {
  const { command, args, env, cwd } = launch;
  return spawn(command, args, { env, cwd, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
}
