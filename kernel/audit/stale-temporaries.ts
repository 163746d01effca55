// The temporaries a sealer makes in the audit directory, and their removal when a sealer stopped
// mid-way (a crash, a kill) left them behind: the directory a tenant's segment directory is made
// under (`.tmp-<tenant>-XXXXXX` beside it, given its group and mode, then renamed into place), and
// the file each segment or marker is written to inside the tenant's directory (`.tmp-<pid>-<hex>`,
// synced and made read-only, then linked or renamed to its name: segment-files.ts). No reader takes
// either for a trail or a segment (audit-access.ts: a trail's directory is named by a tenant id;
// audit-segment.ts: a segment by its number), and the next pass writes anew under new names; they
// are removed only so that they do not pile up (a segment's temporary file is as large as it).
import { randomBytes } from 'node:crypto';
import { lstat, readdir, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { TENANT_ID_PATTERN } from '../tenant/tenant-spec.ts';

/** The prefix mkdtemp completes (six characters) for `tenant`'s directory. */
export function tenantTempPrefix(tenant: string): string {
  return `.tmp-${tenant}-`;
}

/** A new name for the temporary file this process writes a segment or marker to. */
export function tempFileName(): string {
  return `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

const TEMP_DIR = new RegExp(`^\\.tmp-${TENANT_ID_PATTERN.source.slice(1, -1)}-[A-Za-z0-9]{6}$`);
const TEMP_FILE = /^\.tmp-\d+-[0-9a-f]{12}$/;

/**
 * How old a temporary must be to be taken as left behind: a sealer holds its directory for three
 * system calls (chown, chmod, rename), and its file from its open to its link or rename (a write,
 * a sync, chown and chmod), never for minutes.
 */
export const STALE_TEMP_MS = 10 * 60 * 1000;

export interface StaleSweep {
  olderThanMs: number;
  now: Date;
}

async function names(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** `path` itself (never what a link names) when it is of the kind asked and older than the sweep's bound. */
async function stale(path: string, kind: 'directory' | 'file', sweep: StaleSweep): Promise<boolean> {
  const found = await lstat(path).catch(() => undefined);
  const ofKind = kind === 'directory' ? found?.isDirectory() : found?.isFile();
  return found !== undefined && ofKind === true && sweep.now.getTime() - found.mtimeMs > sweep.olderThanMs;
}

/**
 * Removes the temporary directories under the audit directory `root` last changed more than
 * `olderThanMs` ago; returns their names. Safe beside a sealer making one now: a directory that
 * young is left, and rmdir removes only an empty one, which a temporary directory always is (its
 * segments are written once it is renamed to the tenant's name). Were a sealer to hold one past
 * the age anyway, its rename would fail and that tenant's pass with it, to be sealed at the next
 * pass: nothing written is lost.
 */
export async function removeStaleTempDirs(root: string, sweep: StaleSweep): Promise<string[]> {
  const removed: string[] = [];
  for (const name of (await names(root)).filter((n) => TEMP_DIR.test(n))) {
    const path = join(root, name);
    if (!(await stale(path, 'directory', sweep))) continue;
    // Gone meanwhile (another sealer's rename or removal), or not empty: not ours to remove.
    if (
      await rmdir(path).then(
        () => true,
        () => false,
      )
    )
      removed.push(name);
  }
  return removed;
}

/**
 * Removes the temporary files in the trail directory `dir` (a tenant's, an offboarded one's; `names`
 * its entries, read by the caller's walk over the trails) last written more than `olderThanMs` ago;
 * returns their names. Only regular files of the name the writer gives them: a symbolic link of
 * that name is left, as is anything else. Safe beside a sealer writing one now: a file that young is
 * left; were a sealer to hold one past the age anyway, its link or rename would fail, and with it
 * that tenant's pass before it trims anything from Redis, to be sealed at the next pass: nothing
 * written is lost. One a crash left after its link (the segment written, the temporary name not yet
 * unlinked) is the segment's second name: removing it leaves the segment.
 */
export async function removeStaleTempFiles(
  dir: string,
  names: string[],
  sweep: StaleSweep,
): Promise<string[]> {
  const removed: string[] = [];
  for (const name of names.filter((n) => TEMP_FILE.test(n))) {
    if (!(await stale(join(dir, name), 'file', sweep))) continue;
    // Gone meanwhile (its writer's own unlink, another sealer's sweep): nothing to remove.
    if (
      await unlink(join(dir, name)).then(
        () => true,
        () => false,
      )
    )
      removed.push(name);
  }
  return removed;
}
