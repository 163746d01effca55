// A file or directory an operator named (`--out DIR`, `-f FILE`, a key file's variable) that the
// system refused: one line naming the path and why, as bad input (exit 2), instead of Node's own
// "ENOTDIR: not a directory, mkdir '...'". The errno code stays at the end, for a search.
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { BulkheadError } from './bulkhead-error.ts';

/** Why, for the codes a named path can meet; another code is said as the system says it. */
const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
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
 * The refusal of a failed file operation on `options.path` (or a file under it), or `error` itself
 * when it is not one the system's file calls make: a bug is not the operator's bad input.
 */
export function pathRefusal(options: PathRefusalOptions, error: unknown): unknown {
  const failed = error as NodeJS.ErrnoException;
  if (!(error instanceof Error) || typeof failed.code !== 'string' || !/^E[A-Z]+$/.test(failed.code))
    return error;
  const { option, path, verb } = options;
  const where = failed.path === undefined || failed.path === path ? 'it' : failed.path;
  return new BulkheadError(
    'invalid_input',
    `${option === undefined ? path : `${option} ${path}`}: cannot ${verb} ${where}: ${reason(failed)} (${failed.code})`,
    { cause: error },
  );
}

function reason(error: NodeJS.ErrnoException): string {
  if (error.code === 'ENOTDIR' && error.path !== undefined) {
    const file = fileAbove(error.path);
    return file === undefined ? 'a part of the path is not a directory' : `${file} is not a directory`;
  }
  // mkdir of a directory where a file of that name is.
  if (error.code === 'EEXIST' && error.syscall === 'mkdir') return 'it is a file, not a directory';
  return REASONS[error.code ?? ''] ?? error.message.replace(/^E[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
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
