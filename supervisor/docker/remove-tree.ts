// Removing what a tenant could write on the host: its socket directory (bind-mounted at /run/mcp)
// and the files in it. The tenant's code is hostile and may fill the directory first. Node's
// recursive `rm` lists a directory whole and starts a removal for every entry at once: a million
// empty files cost the supervisor gigabytes and stalled every other async file operation of every
// tenant (thaws, cgroup reads, secret deliveries) for tens of seconds, and a tree deeper than the
// path limit (built with relative paths inside the container) failed it for good with
// ENAMETOOLONG, so the tenant's offboarding could never finish. A directory that is more than the
// few sockets a runtime leaves is removed by GNU `rm -rf --one-file-system` in a child process of
// its own instead: it walks by directory handle (no path limit), in bounded memory, without
// following a symlink, and the supervisor's event loop and threadpool go on meanwhile. The usual
// case, a handful of sockets, stays in-process: a start does not pay for a process.
import { execFile } from 'node:child_process';
import { opendir, rm } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A directory with more entries than this, or any subdirectory, is removed by `rm -rf`. */
const IN_PROCESS_ENTRIES = 16;

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string } | null)?.code;
}

/** Whether `dir` holds at most IN_PROCESS_ENTRIES entries and no directory (read lazily). */
async function small(dir: string): Promise<boolean> {
  const entries = await opendir(dir, { bufferSize: IN_PROCESS_ENTRIES + 1 });
  let count = 0;
  // Breaking out of the loop closes the handle.
  for await (const entry of entries) if (++count > IN_PROCESS_ENTRIES || entry.isDirectory()) return false;
  return true;
}

/** `rm -rf` in a child process: its own memory and time, never this process's. */
async function removeInChild(path: string): Promise<void> {
  await run('rm', ['-rf', '--one-file-system', '--', path], { maxBuffer: 64 * 1024 });
}

/**
 * Removes the directory `dir` and everything in it, never following a symlink; nothing there is
 * not an error. A path that is not a directory (a symlink planted in its place) is removed itself.
 */
export async function removeTree(dir: string): Promise<void> {
  let inProcess: boolean;
  try {
    inProcess = await small(dir);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return;
    if (codeOf(error) !== 'ENOTDIR') throw error;
    inProcess = true;
  }
  if (inProcess) await rm(dir, { recursive: true, force: true });
  else await removeInChild(dir);
}

/**
 * Removes one entry of a tenant-writable directory whatever the tenant made of it: a file, socket
 * or symlink in-process (not followed), a directory planted in its place as `removeTree` does.
 */
export async function removeEntry(path: string): Promise<void> {
  try {
    await rm(path, { force: true });
  } catch (error) {
    if (codeOf(error) !== 'ERR_FS_EISDIR' && codeOf(error) !== 'EISDIR') throw error;
    await removeTree(path);
  }
}
