// The temporary directories a tenant's segment directory is made under (segment-files.ts: made as
// `.tmp-<tenant>-XXXXXX` beside it, given its group and mode, then renamed into place), and their
// removal when a sealer stopped between the two (a crash, a kill) left one behind. No reader takes
// one for a trail (audit-access.ts: a trail's directory is named by a tenant id), and making the
// tenant's directory again uses a new one; they are removed only so that they do not pile up.
import { lstat, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TENANT_ID_PATTERN } from '../tenant/tenant-spec.ts';

/** The prefix mkdtemp completes (six characters) for `tenant`'s directory. */
export function tenantTempPrefix(tenant: string): string {
  return `.tmp-${tenant}-`;
}

const TEMP_DIR = new RegExp(`^\\.tmp-${TENANT_ID_PATTERN.source.slice(1, -1)}-[A-Za-z0-9]{6}$`);

/**
 * How old a temporary directory must be to be taken as left behind: a sealer making one holds it
 * for three system calls (chown, chmod, rename), never for minutes.
 */
export const STALE_TEMP_DIR_MS = 10 * 60 * 1000;

/**
 * Removes the temporary directories under the audit directory `root` last changed more than
 * `olderThanMs` ago; returns their names. Safe beside a sealer making one now: a directory that
 * young is left, and rmdir removes only an empty one, which a temporary directory always is (its
 * segments are written once it is renamed to the tenant's name). Were a sealer to hold one past
 * the age anyway, its rename would fail and that tenant's pass with it, to be sealed at the next
 * pass: nothing written is lost.
 */
export async function removeStaleTempDirs(
  root: string,
  options: { olderThanMs: number; now: Date },
): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const removed: string[] = [];
  for (const name of names.filter((n) => TEMP_DIR.test(n))) {
    const path = join(root, name);
    const found = await lstat(path).catch(() => undefined);
    if (!found?.isDirectory() || options.now.getTime() - found.mtimeMs <= options.olderThanMs) continue;
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
