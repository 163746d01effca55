// Whether this supervisor can seal into its audit directory as configured, checked at its start: a
// supervisor that cannot write there, or cannot give what it writes to the readers' group
// (BULKHEAD_AUDIT_READER_GID; a file's group is changed only by root with CAP_CHOWN or by its owner
// to a group it is in), failed every sealing pass and only logged it, while the entries piled up
// in Redis and the auditors read nothing new. So did one that could write the audit directory but
// not a tenant's trail directory in it: those are checked too, a stat each.
import { constants } from 'node:fs';
import { access, lstat, mkdir, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { denied, isTrailDirName, processIdentity } from '../../kernel/audit/audit-access.ts';
import { tempFileName } from '../../kernel/audit/stale-temporaries.ts';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { pathRefusal } from '../../kernel/errors/path-refusal.ts';

/**
 * Refuses the start (invalid_config, naming the setting and why) unless this process can do what
 * a sealing pass does first: make the audit directory (0700, as the sealer makes it), write a file
 * in it, and give that file the readers' group. Tried on a scratch file of the name the sealer
 * gives its temporary files, removed at once: one a crash left is swept as theirs are
 * (kernel/audit/stale-temporaries.ts). Then each trail directory in it (trailDirProblem).
 */
export async function requireSealAccess(dir: string, readerGid: number | undefined): Promise<void> {
  const refusal = (error: unknown, verb: 'read' | 'write' = 'write') => {
    const refused = pathRefusal({ option: 'BULKHEAD_AUDIT_DIR', path: dir, verb }, error);
    return refused instanceof BulkheadError ? new BulkheadError('invalid_config', refused.message) : refused;
  };
  const scratch = join(dir, tempFileName());
  const handle = await mkdir(dir, { recursive: true, mode: 0o700 })
    .then(() => open(scratch, 'wx', 0o600))
    .catch((error: unknown) => Promise.reject(refusal(error) as Error));
  try {
    if (readerGid !== undefined)
      await handle.chown(-1, readerGid).catch((error: unknown) => {
        if (!denied(error)) throw error;
        throw new BulkheadError(
          'invalid_config',
          `BULKHEAD_AUDIT_READER_GID ${readerGid}: this process, ${processIdentity()}, cannot give the segments it seals in ${dir} to group ${readerGid} (${(error as NodeJS.ErrnoException).code}): run the supervisor with that group among its groups, or as root`,
          { cause: error },
        );
      });
  } finally {
    await handle.close();
    await unlink(scratch);
  }
  const names = await readdir(dir).catch((error: unknown) => Promise.reject(refusal(error, 'read') as Error));
  for (const name of names.filter(isTrailDirName).sort()) {
    const problem = await trailDirProblem(join(dir, name), readerGid);
    if (problem !== undefined)
      throw new BulkheadError('invalid_config', `BULKHEAD_AUDIT_DIR ${dir}: ${problem}`);
  }
}

/**
 * Why a sealing pass could not keep the trail directory `path` (a tenant's, or an offboarded one's
 * it prunes and removes), undefined when it can. With a readers' group, a pass gives the directory
 * that group and mode 0750 at each write (kernel/audit/segment-files.ts), which only its owner or
 * root may: a group other than the readers' is then no problem of its own (the first pass brings it
 * into the group, first-pass.ts). Without one, a pass writes in it as it is.
 */
async function trailDirProblem(path: string, readerGid: number | undefined): Promise<string | undefined> {
  const found = await lstat(path).catch(() => undefined);
  // Removed since it was listed (an offboarded trail past its retention), or no directory: no trail.
  if (!found?.isDirectory()) return undefined;
  const euid = process.geteuid?.();
  const what = `owner uid ${found.uid}, group ${found.gid}, mode 0${(found.mode & 0o777).toString(8)}`;
  const who = `this process, ${processIdentity()}`;
  if (readerGid !== undefined) {
    if (euid === 0 || found.uid === euid) return undefined;
    return `${path} (${what}) is not this process's: ${who}, cannot give it the readers' group ${readerGid} and mode 0750 as each sealing pass does (chown it to the supervisor's uid)`;
  }
  const writable = await access(path, constants.W_OK | constants.X_OK).then(
    () => true,
    () => false,
  );
  return writable
    ? undefined
    : `${path} (${what}) cannot be written by ${who}: each sealing pass writes the trail's segments and markers there (chown it to the supervisor's uid)`;
}
