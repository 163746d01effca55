// How a pack process is started confined: through pack-confine.py (Landlock), which lets the pack
// read the system's files and the packs' code, write only in its own directories on the tenant's
// volume and in /tmp, and connect only to its own egress port. That file says why Landlock and why
// Python; this one builds its command line.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `landlock`: a pack starts only confined (runc, where the host kernel is the boundary).
 * `sandbox`: confined where the kernel offers Landlock, else the sandbox is the boundary (gVisor,
 * which implements no Landlock); the supervisor sets it for gVisor tenants.
 */
export const PACK_CONFINEMENTS = ['landlock', 'sandbox'] as const;
export type PackConfinementMode = (typeof PACK_CONFINEMENTS)[number];

/** Where the launcher is: beside this file in the sources, beside server.mjs in the image. */
export const CONFINE_SCRIPT = fileURLToPath(new URL('./pack-confine.py', import.meta.url));

/** What the system offers every pack to read (and execute): not /data, /run, /app or /opt. */
const SYSTEM_READ = ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/etc', '/proc'];

export interface PackConfinement {
  mode: PackConfinementMode;
  /** The launcher script (CONFINE_SCRIPT unless a test moves it). */
  script: string;
}

/** The argv that starts `argv` confined to the pack's own directories and egress port. */
export function confinedArgv(
  confinement: PackConfinement,
  /** No egress port: the pack may connect to no TCP port at all (the reference pack). */
  pack: { packDir: string; workDir: string; tmpDir: string; egressPort: number | undefined },
  argv: string[],
): string[] {
  return [
    'python3',
    // Isolated (no PYTHON* variables, no user site) and without site: nothing of the pack's runs
    // in the launcher before the restriction.
    '-I',
    '-S',
    confinement.script,
    ...SYSTEM_READ.flatMap((path) => ['--read', path]),
    // The packs' code, every pack's: the operator's code, not data (packs may share files).
    '--read',
    dirname(pack.packDir),
    '--write',
    pack.workDir,
    '--write',
    pack.tmpDir,
    ...(pack.egressPort === undefined ? [] : ['--connect-port', String(pack.egressPort)]),
    ...(confinement.mode === 'landlock' ? ['--require'] : []),
    '--',
    ...argv,
  ];
}
