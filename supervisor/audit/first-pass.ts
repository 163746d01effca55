// What a sealer does once, at its first pass, before it seals anything: the audit directory brought
// back to what its passes leave. A failure is logged and the pass goes on: nothing here stops a
// tenant's sealing.
import { constants } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isTrailDirName } from '../../kernel/audit/audit-access.ts';
import { segmentNumberOf } from '../../kernel/audit/audit-segment.ts';
import { OFFBOARD_MARKER_FILE } from '../../kernel/audit/offboard-marker.ts';
import { PRUNE_MARKER_FILE, SHIP_CURSOR_FILE } from '../../kernel/audit/segment-files.ts';
import {
  removeStaleTempDirs,
  removeStaleTempFiles,
  STALE_TEMP_MS,
} from '../../kernel/audit/stale-temporaries.ts';

export interface FirstPassOptions {
  /** The installation's audit directory. */
  dir: string;
  /** The readers' group (BULKHEAD_AUDIT_READER_GID), if any. */
  readerGid: number | undefined;
  logger: Logger;
  now: Date;
}

/**
 * Removes the temporaries (directories, files) a sealer stopped mid-way left behind, past
 * STALE_TEMP_MS (what is left is read by no one); with a readers' group, brings what was sealed
 * before it was set into it (bringIntoReaderGroup). One walk over the trails' directories, each
 * listed once for both; a failure in one is logged and the walk goes on.
 */
export async function firstPassHousekeeping(options: FirstPassOptions): Promise<void> {
  const { dir: root, logger, now, readerGid } = options;
  const sweep = { olderThanMs: STALE_TEMP_MS, now };
  try {
    const removed = await removeStaleTempDirs(root, sweep);
    if (removed.length > 0) logger.info({ removed }, 'temporary audit directories left behind: removed');
  } catch (error) {
    logger.warn({ err: error }, 'temporary audit directories not swept');
  }
  const names = await readdir(root).catch(() => [] as string[]);
  for (const name of names.filter(isTrailDirName).sort()) {
    const dir = join(root, name);
    try {
      // A trail's directory that is a link is not entered.
      if (!(await lstat(dir)).isDirectory()) continue;
      const files = await readdir(dir);
      const removed = await removeStaleTempFiles(dir, files, sweep);
      if (removed.length > 0) logger.info({ dir, removed }, 'temporary audit files left behind: removed');
      if (readerGid !== undefined) await bringIntoReaderGroup(dir, files, readerGid, logger);
    } catch (error) {
      logger.warn({ dir, err: error }, 'audit trail directory not kept');
    }
  }
}

/** The names of the files a pass writes in a trail's directory: what its readers read. */
const sealedFile = (name: string): boolean =>
  segmentNumberOf(name) !== undefined ||
  [PRUNE_MARKER_FILE, SHIP_CURSOR_FILE, OFFBOARD_MARKER_FILE].includes(name);

const NOT_FOLLOWED = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * A trail's directory `dir` (0750) and the files its passes wrote (`files` among its entries; their
 * mode as written, 0440) given the readers' group, where an earlier supervisor, without one, sealed
 * them for itself alone: a pass gives it to what it writes from then on, and those segments were
 * found only when a reader (the console, `bulkhead audit verify`) failed on them. A stat per file,
 * once. Nothing is followed: each is opened without following a link and changed through that
 * descriptor, and only a directory, or a regular file with no other name (a hard link planted under
 * a segment's name would hand the readers the file it names), is changed.
 */
async function bringIntoReaderGroup(
  dir: string,
  files: string[],
  gid: number,
  logger: Logger,
): Promise<void> {
  let changed = (await regroup(dir, gid, constants.O_DIRECTORY, 0o750)) ? 1 : 0;
  for (const file of files.filter(sealedFile)) {
    const path = join(dir, file);
    const found = await lstat(path).catch(() => undefined);
    if (found?.isFile() && found.gid !== gid && (await regroup(path, gid, 0))) changed += 1;
  }
  if (changed > 0) logger.info({ dir, changed }, "audit trail sealed before the readers' group: given it");
}

/**
 * Gives `path` the group `gid` (and a directory `mode`), through a descriptor opened without
 * following a link; whether it changed anything. Gone meanwhile (an offboarding moved it): nothing.
 */
async function regroup(path: string, gid: number, flags: number, mode?: number): Promise<boolean> {
  const handle = await open(path, NOT_FOLLOWED | flags).catch((error: NodeJS.ErrnoException) =>
    error.code === 'ENOENT' ? undefined : Promise.reject(error),
  );
  if (!handle) return false;
  try {
    const found = await handle.stat();
    const directory = mode !== undefined;
    if (directory ? !found.isDirectory() : !found.isFile() || found.nlink !== 1) return false;
    if (found.gid === gid && (!directory || (found.mode & 0o777) === mode)) return false;
    await handle.chown(-1, gid);
    if (directory) await handle.chmod(mode);
    return true;
  } finally {
    await handle.close();
  }
}
