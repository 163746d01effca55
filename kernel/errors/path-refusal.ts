// A file or directory an operator named (`--out DIR`, `-f FILE`, a key file's variable) that the
// system refused for a reason of the path itself: one line naming the path and why, as bad input
// (exit 2), instead of Node's own "ENOTDIR: not a directory, mkdir '...'". The errno code stays at
// the end, for a search. A failure of the machine (EIO, EMFILE, ENOSPC, ...) stays an error.
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { BulkheadError } from './bulkhead-error.ts';

/**
 * The codes that say something of the path itself, each with why: what the operator can change by
 * naming another path (or fixing that one). Any other code is of the machine, not of the path: EIO,
 * EMFILE, ENFILE, ENOMEM, EBUSY, EAGAIN; ENOSPC and EDQUOT too, a full disk or quota that the same
 * command with the same path gets past once space is freed. Those stay errors (exit 1), the
 * system's error as it was. EROFS is of the path: a read-only mount stays read-only until the
 * operator names a path elsewhere.
 */
const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  EEXIST: 'it exists already',
  EROFS: 'the file system is read-only',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
};

export interface PathRefusalOptions {
  /** Where the path came from, e.g. `--out` or `BULKHEAD_AUDIT_PUBLIC_KEY_FILE`; absent: the path alone. */
  option?: string;
  /** The path as the operator gave it. */
  path: string;
  verb: 'read' | 'write';
}

/**
 * The refusal of a failed file operation on `options.path` (or a file under it) when its code says
 * something of the path (REASONS), or `error` itself otherwise: a bug, or a machine short of file
 * descriptors, memory or space, is not the operator's bad input.
 */
export function pathRefusal(options: PathRefusalOptions, error: unknown): unknown {
  const failed = error as NodeJS.ErrnoException;
  if (!(error instanceof Error) || typeof failed.code !== 'string' || !Object.hasOwn(REASONS, failed.code))
    return error;
  const { option, path, verb } = options;
  const where = failed.path === undefined || failed.path === path ? 'it' : failed.path;
  return new BulkheadError(
    'invalid_input',
    `${option === undefined ? path : `${option} ${path}`}: cannot ${verb} ${where}: ${reason(failed, failed.code)} (${failed.code})`,
    { cause: error },
  );
}

function reason(error: NodeJS.ErrnoException, code: string): string {
  const file = code === 'ENOTDIR' && error.path !== undefined ? fileAbove(error.path) : undefined;
  if (file !== undefined) return `${file} is not a directory`;
  // mkdir of a directory where a file of that name is.
  if (code === 'EEXIST' && error.syscall === 'mkdir') return 'it is a file, not a directory';
  return REASONS[code]!;
}

/** The nearest existing path at or above `path`, when it is not a directory: what blocked it. */
function fileAbove(path: string): string | undefined {
  try {
    for (let at = path; ; at = dirname(at)) {
      const stat = statSync(at, { throwIfNoEntry: false });
      if (stat !== undefined) return stat.isDirectory() ? undefined : at;
      if (dirname(at) === at) return undefined;
    }
  } catch {
    // A parent this process may not look into: the reason stays general.
    return undefined;
  }
}

/** Runs `work` on the path `options` names; a file operation's failure becomes its refusal. */
export async function atPath<T>(options: PathRefusalOptions, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw pathRefusal(options, error);
  }
}
