// Whether this supervisor can seal into its audit directory as configured, checked at its start: a
// supervisor that cannot write there, or cannot give what it writes to the readers' group
// (BULKHEAD_AUDIT_READER_GID; a file's group is changed only by root with CAP_CHOWN or by its owner
// to a group it is in), failed every sealing pass and only logged it, while the entries piled up
// in Redis and the auditors read nothing new.
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { denied, processIdentity } from '../../kernel/audit/audit-access.ts';
import { tempFileName } from '../../kernel/audit/stale-temporaries.ts';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { pathRefusal } from '../../kernel/errors/path-refusal.ts';

/**
 * Refuses the start (invalid_config, naming the setting and why) unless this process can do what
 * a sealing pass does first: make the audit directory (0700, as the sealer makes it), write a file
 * in it, and give that file the readers' group. Tried on a scratch file of the name the sealer
 * gives its temporary files, removed at once: one a crash left is swept as theirs are
 * (kernel/audit/stale-temporaries.ts). A directory the process can write but a tenant's directory
 * it cannot is not found here: that is a pass's error, logged.
 */
export async function requireSealAccess(dir: string, readerGid: number | undefined): Promise<void> {
  const refusal = (error: unknown) => {
    const refused = pathRefusal({ option: 'BULKHEAD_AUDIT_DIR', path: dir, verb: 'write' }, error);
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
}
