// Whether this process may read the installation's audit directory, and why not. The sealed
// segments are the supervisor's: another process (the console, the auditors' CLI) reads them only
// through the readers' group the sealer gives them (BULKHEAD_AUDIT_READER_GID, segment-files.ts),
// and only through an audit directory that lets it in. A reader that cannot says which directory
// or file, its mode and group, and who this process is (audit_unreadable), instead of a bare EACCES
// (the console answered every tenant page 500), or, for an audit directory it cannot enter, reading
// as though nothing were sealed (it showed the entries still in Redis as the whole trail).
import { constants } from 'node:fs';
import { access, lstat, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BulkheadError } from '../errors/bulkhead-error.ts';
import { TENANT_ID_PATTERN } from '../tenant/tenant-spec.ts';
import { OFFBOARDED_DIR } from './offboard-marker.ts';

/** Whether a file system error is a refusal of this process's permissions. */
export function denied(error: unknown): boolean {
  const { code } = error as NodeJS.ErrnoException;
  return code === 'EACCES' || code === 'EPERM';
}

/**
 * Whether a name under the audit directory is a trail's: a tenant's directory or an offboarded
 * one's. Anything else there (the sealer's temporary `.tmp-<tenant>-…` directory, which a crash can
 * leave behind) is no tenant's and is read by no one.
 */
export function isTrailDirName(name: string): boolean {
  return TENANT_ID_PATTERN.test(name) || OFFBOARDED_DIR.test(name);
}

/** The groups this process reads files as: its effective group and its supplementary ones. */
function processGroups(): Set<number | undefined> {
  return new Set([process.getegid?.(), ...(process.getgroups?.() ?? [])]);
}

/** Who this process is to the file system: `uid 1000 (groups 1000, 54361)`. */
export function processIdentity(): string {
  return `uid ${process.geteuid?.()} (groups ${[...processGroups()].join(', ')})`;
}

/**
 * Why this process cannot read `path` (a directory or file of the audit directory): its mode and
 * group against this process's; a path that cannot even be looked at is explained by its parent.
 */
export async function accessProblem(path: string): Promise<string> {
  let found: Awaited<ReturnType<typeof stat>>;
  try {
    found = await stat(path);
  } catch (error) {
    if (denied(error) && dirname(path) !== path) return accessProblem(dirname(path));
    return `${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
  }
  const mode = `0${(found.mode & 0o777).toString(8)}`;
  const who = processIdentity();
  if ((found.mode & 0o040) === 0)
    return `${path} is mode ${mode}, its owner's (uid ${found.uid}) alone, and this process is ${who}: the sealer gives what it seals to the readers' group only with BULKHEAD_AUDIT_READER_GID set (what it sealed before, at its first pass with it), and the audit directory must let that group in (docs/audit-readers.md)`;
  if (!processGroups().has(found.gid))
    return `${path} is readable by group ${found.gid} (mode ${mode}), which this process, ${who}, is not in: the supervisor's BULKHEAD_AUDIT_READER_GID must be one of this process's groups`;
  return `${path} (mode ${mode}, group ${found.gid}) is not readable by this process, ${who}`;
}

/** The error a reader answers for a file system refusal at `path`; any other error as it is. */
export async function unreadable(path: string, error: unknown): Promise<unknown> {
  return denied(error)
    ? new BulkheadError('audit_unreadable', await accessProblem(path), { cause: error })
    : error;
}

/** Whether a trail's directory exists: false when it does not, audit_unreadable when it cannot be told. */
export async function trailDirExists(dir: string): Promise<boolean> {
  try {
    await stat(dir);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw await unreadable(dir, error);
  }
}

/**
 * Why this process could not read the audit directory `root` (or a trail in it) as it stands,
 * undefined when it can: checked where a reader starts (the console), so that a readers' group this
 * process is not in refuses the start instead of every tenant's page. An audit directory not made
 * yet is fine (nothing sealed). Only the directories: a segment sealed before the group was set
 * is given it at the supervisor's first pass with it (supervisor/audit/first-pass.ts); until then
 * it is found when it is read.
 */
export async function auditReadProblem(root: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = await readdir(root);
    await access(root, constants.R_OK | constants.X_OK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (denied(error)) return accessProblem(root);
    throw error;
  }
  for (const name of names.filter(isTrailDirName).sort()) {
    const path = join(root, name);
    // Removed since it was listed (an offboarded trail past its retention), or no directory: not read.
    if (!(await lstat(path).catch(() => undefined))?.isDirectory()) continue;
    const readable = await access(path, constants.R_OK | constants.X_OK).then(
      () => true,
      () => false,
    );
    if (!readable) return accessProblem(path);
  }
  return undefined;
}
