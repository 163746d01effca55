// A tenant's sealed audit segments on disk: <dir>/<tenant>/segment-NNNNNNNN.jsonl plus pruned.json
// when retention removed the oldest, and shipped.json when they are shipped to a SIEM
// (supervisor/audit/audit-shipper.ts); an offboarded tenant's, moved to
// <dir>/<tenant>.offboarded-<time>/, hold offboarded.json too (offboard-marker.ts). A segment is written once (a temporary file, synced, made
// read-only, then hard-linked to its name, which fails if the name exists: two sealers can never
// overwrite each other's segment) and never modified; the marker is replaced atomically (rename).
import { constants as bufferConstants } from 'node:buffer';
import type { KeyObject } from 'node:crypto';
import { constants } from 'node:fs';
import {
  open,
  readdir,
  link,
  unlink,
  rename,
  mkdir,
  mkdtemp,
  rmdir,
  chmod,
  chown,
  stat,
} from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BulkheadError } from '../errors/bulkhead-error.ts';
import { unreadable } from './audit-access.ts';
import { tempFileName, tenantTempPrefix } from './stale-temporaries.ts';
import { TenantIdSchema } from '../tenant/tenant-spec.ts';
import {
  OFFBOARD_MARKER_FILE,
  OFFBOARDED_DIR,
  offboardEndProblem,
  verifiedOffboardMarker,
  type OffboardMarker,
} from './offboard-marker.ts';
import {
  FIRST_SEGMENT_PREV,
  parseSegment,
  segmentFileName,
  segmentNumberOf,
  type ParsedSegment,
  type SegmentLink,
} from './audit-segment.ts';
import { GENESIS_HASH } from './audit-trail.ts';
import { shippedEndProblem, verifiedShipCursor, type ShipCursorRead } from './ship-cursor.ts';
import {
  chainStart,
  PruneMarkerSchema,
  SegmentChainCheck,
  type PruneMarker,
  type SegmentFile,
  type SegmentsCheck,
  type VerifiedSegments,
} from './segment-chain.ts';

const { MAX_STRING_LENGTH } = bufferConstants;

export const PRUNE_MARKER_FILE = 'pruned.json';
export const SHIP_CURSOR_FILE = 'shipped.json';

/**
 * Who besides the writer may read what it writes: `readerGid`, a group given read access to the
 * tenant's directory (0750) and to each file (0440), e.g. the auditors' CLI in docker-compose.yml;
 * without it, the writer alone (0700, 0440). Never write access: a segment is only ever written by
 * the sealer.
 */
export interface SegmentWriteOptions {
  readerGid?: number | undefined;
}

/** The directory of one tenant's segments under the installation's audit directory. */
export function tenantSegmentDir(root: string, tenant: string): string {
  if (!TenantIdSchema.safeParse(tenant).success)
    throw new BulkheadError('invalid_input', `not a tenant id: ${JSON.stringify(tenant)}`);
  return join(root, tenant);
}

function missing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/** The segment file names in `dir` with their numbers, oldest first (none when there is no dir). */
export async function listSegments(dir: string): Promise<{ name: string; number: number }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (missing(error)) return [];
    throw await unreadable(dir, error);
  }
  return names
    .flatMap((name) => {
      const number = segmentNumberOf(name);
      return number === undefined ? [] : [{ name, number }];
    })
    .sort((a, b) => a.number - b.number);
}

/** The sealer writes each file from one string: at most MAX_STRING_LENGTH units, 3 bytes each in UTF-8. */
const MAX_AUDIT_FILE_BYTES = 3 * MAX_STRING_LENGTH;

/**
 * A file of a tenant's directory as text, only if it is a regular file there: a name planted in the
 * directory as a FIFO, or as a symbolic link to one or to a device, would otherwise block its reader
 * for good (the sealer's whole pass, silently) or fill its memory. Opened without following a link
 * and without blocking, and refused as audit_verification_failed unless it is a regular file.
 */
async function readAuditFile(path: string): Promise<string> {
  const refused = () => new BulkheadError('audit_verification_failed', `${path}: not a regular file`);
  const tooLarge = (size: number) =>
    new BulkheadError(
      'audit_verification_failed',
      `${path}: ${size} bytes, too large to be the sealer's (it writes a file from one string, at most ${MAX_STRING_LENGTH} characters)`,
    );
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
    async (error: NodeJS.ErrnoException) => {
      throw error.code === 'ELOOP' ? refused() : await unreadable(path, error);
    },
  );
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw refused();
    // Past the bound it is none of the sealer's: refused unread. Node's own refusals (past 2 GiB,
    // or past a string's length once read) name no file: the latter is named here too.
    if (stats.size > MAX_AUDIT_FILE_BYTES) throw tooLarge(stats.size);
    return await handle.readFile('utf8').catch((error: unknown) => {
      throw error instanceof RangeError ? tooLarge(stats.size) : error;
    });
  } finally {
    await handle.close();
  }
}

/** One segment file's text. */
export function readSegmentText(dir: string, name: string): Promise<string> {
  return readAuditFile(join(dir, name));
}

/** How walkSegmentFiles checks a directory's segments, and what it hands its reader. */
export interface SegmentWalk {
  dir: string;
  publicKey: KeyObject;
  /** The tenant every segment must belong to (undefined: the first segment's, or the marker's). */
  tenant: string | undefined;
  /**
   * The createdAt of the tenant record the segments must be of (undefined: the offboarding marker's,
   * or the first segment's that names one).
   */
  createdAt?: string | undefined;
  /** Segments verified before, skipped when their bytes and place are the same. */
  verified?: VerifiedSegments | undefined;
  /** Each segment that verified, with its text, before the next file is read (a promise is awaited). */
  onVerified?: ((segment: SegmentFile & { parsed: ParsedSegment }) => void | Promise<void>) | undefined;
  /** Segments checked so far, of how many: called after each. */
  progress?: ((done: number, total: number) => void) | undefined;
}

/** The segments checked, and the signed shipped record read with them (checked: ship-cursor.ts). */
export type WalkedSegments = SegmentsCheck & { shipped?: ShipCursorRead };

/**
 * Checks the segments of `dir` one file at a time, oldest first, as one chain from the pruning
 * marker (SegmentChainCheck), so that a trail of any length needs one segment's text in memory at
 * once; stops at the first that does not verify, which the result names.
 */
export async function walkSegmentFiles(walk: SegmentWalk): Promise<WalkedSegments> {
  const { dir, publicKey, verified, onVerified, progress } = walk;
  // An offboarded tenant's directory: its segments must be the marker's tenant's and end where the
  // marker says (checked once they are walked).
  const offboardText = await readOptional(dir, OFFBOARD_MARKER_FILE);
  const offboard = offboardText === undefined ? undefined : verifiedOffboardMarker(offboardText, publicKey);
  if (typeof offboard === 'string') return { ...failed, problem: offboard };
  const tenant = walk.tenant ?? offboard?.tenant;
  const createdAt = walk.createdAt ?? offboard?.tenant_created_at;
  // Read before the segments: a supervisor that seals and ships one more while they are walked
  // moves it past the ones listed, which is no removal.
  const shippedText = await readOptional(dir, SHIP_CURSOR_FILE);
  const chain = new SegmentChainCheck({
    marker: await readMarkerText(dir),
    ...{ publicKey, tenant, createdAt, verified },
  });
  const listed = await listSegments(dir);
  for (const [i, file] of listed.entries()) {
    if (!chain.result.ok) break;
    const text = await readSegmentText(dir, file.name);
    const parsed = chain.next({ ...file, text });
    if (parsed) await onVerified?.({ ...file, text, parsed });
    progress?.(i + 1, listed.length);
  }
  // The signed record of how far the SIEM's collector took the trail: newest segments removed after
  // shipping show (one that does not verify is the shipper's state, reported apart). Read once.
  const shipped =
    shippedText === undefined
      ? undefined
      : { shipped: verifiedShipCursor(shippedText, publicKey, chain.result.tenant ?? tenant) };
  const problem = offboard && chain.result.ok ? offboardEndProblem(offboard, chain.result, walk) : undefined;
  if (problem !== undefined) return { ...chain.result, ok: false, problem, ...shipped };
  const cursor = shipped && 'cursor' in shipped.shipped ? shipped.shipped.cursor : undefined;
  const cut = chain.result.ok && cursor ? shippedEndProblem(cursor, chain.result) : undefined;
  if (cut !== undefined) return { ...chain.result, ok: false, problem: cut, ...shipped };
  return { ...chain.result, ...(offboard ? { offboardedAt: offboard.offboarded_at } : {}), ...shipped };
}

const failed: SegmentsCheck = {
  ok: false,
  segments: 0,
  entries: 0,
  head: GENESIS_HASH,
  lastDigest: FIRST_SEGMENT_PREV,
};

async function readOptional(dir: string, name: string): Promise<string | undefined> {
  try {
    return await readAuditFile(join(dir, name));
  } catch (error) {
    if (missing(error)) return undefined;
    throw error;
  }
}

/** The pruning marker's text, undefined when there is none. */
export function readMarkerText(dir: string): Promise<string | undefined> {
  return readOptional(dir, PRUNE_MARKER_FILE);
}

/** The offboarding marker once its signature verifies, else the problem; undefined when none. */
export async function readOffboardMarker(
  dir: string,
  publicKey: KeyObject,
): Promise<OffboardMarker | string | undefined> {
  const text = await readOptional(dir, OFFBOARD_MARKER_FILE);
  return text === undefined ? undefined : verifiedOffboardMarker(text, publicKey);
}

/** The directories of offboarded tenants under the installation's audit directory (their names). */
export async function offboardedDirs(root: string): Promise<string[]> {
  try {
    return (await readdir(root)).filter((name) => OFFBOARDED_DIR.test(name)).sort();
  } catch (error) {
    if (missing(error)) return [];
    throw await unreadable(root, error);
  }
}

/** The directories of `tenant`'s offboarded trails (their names): one per offboarding of the id. */
export async function offboardedDirsOf(root: string, tenant: string): Promise<string[]> {
  return (await offboardedDirs(root)).filter((name) => name.startsWith(`${tenant}.offboarded-`));
}

/**
 * The shipping cursor of `tenant`'s directory, checked (ship-cursor.ts); undefined when nothing was
 * shipped (or shipping is not configured).
 */
export async function readShipCursor(
  dir: string,
  publicKey: KeyObject,
  tenant: string,
): Promise<ShipCursorRead | undefined> {
  const text = await readOptional(dir, SHIP_CURSOR_FILE);
  return text === undefined ? undefined : verifiedShipCursor(text, publicKey, tenant);
}

/** The pruning marker as written (its signature is verify's to check), undefined when none. */
export async function readMarker(dir: string): Promise<PruneMarker | undefined> {
  const text = await readMarkerText(dir);
  return text === undefined ? undefined : PruneMarkerSchema.parse(JSON.parse(text));
}

/**
 * Where this installation's next segment continues: after the newest segment on disk, else after
 * the pruning marker, else at the start; with the tenant's createdAt the newest of those names.
 * Read from the sealer's own files (verify checks them).
 */
export async function nextLink(dir: string): Promise<SegmentLink & { createdAt?: string | undefined }> {
  const newest = (await listSegments(dir)).at(-1);
  const marker = await readMarker(dir);
  if (!newest || (marker && newest.number <= marker.through_segment))
    return { ...chainStart(marker), createdAt: marker?.tenant_created_at };
  const { header, footer } = parseSegment(await readSegmentText(dir, newest.name));
  return {
    segment: header.segment + 1,
    prevSegmentDigest: footer.digest,
    chain: { prev: footer.last_hash, seq: header.last_seq + 1 },
    createdAt: header.tenant_created_at,
  };
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The tenant's directory `dir`, 0750 in the readers' group when there is one, else 0700 (-1 keeps
 * each owner as it is). One that does not exist yet appears whole: it is made under a temporary name
 * beside it, given its group and mode there, then renamed into place. Made in place, it was the
 * writer's alone (0700) from its mkdir to its chmod, and a reader in the group that found it then
 * (the console, reading a tenant's trail for its page right after the tenant's first entry was
 * sealed) failed with EACCES. One made before a readers' group was set is brought into it.
 */
async function tenantDir(dir: string, options: SegmentWriteOptions): Promise<void> {
  const { readerGid } = options;
  const exists = await stat(dir).then(
    () => true,
    (error: unknown) => (missing(error) ? false : Promise.reject(error as Error)),
  );
  if (!exists) {
    const parent = dirname(dir);
    await mkdir(parent, { recursive: true, mode: 0o700 });
    const temp = await mkdtemp(join(parent, tenantTempPrefix(basename(dir))));
    try {
      if (readerGid !== undefined) await chown(temp, -1, readerGid);
      await chmod(temp, readerGid === undefined ? 0o700 : 0o750);
      await rename(temp, dir);
      return;
    } catch (error) {
      await rmdir(temp).catch(() => undefined);
      // Another writer's came first and holds its files already: that one is used.
      if (!['ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
    }
  }
  if (readerGid !== undefined) {
    await chown(dir, -1, readerGid);
    await chmod(dir, 0o750);
  }
}

/**
 * A synced temporary file in `dir` holding `text`, read-only (0440), in the readers' group when there
 * is one; the directory made or brought to its mode first (tenantDir).
 */
async function writeTemp(dir: string, text: string, options: SegmentWriteOptions): Promise<string> {
  const { readerGid } = options;
  await tenantDir(dir, options);
  const temp = join(dir, tempFileName());
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
    if (readerGid !== undefined) await handle.chown(-1, readerGid);
    await handle.chmod(0o440);
  } finally {
    await handle.close();
  }
  return temp;
}

/** Writes segment `n` once; a generation_conflict error if that segment already exists. */
export async function writeSegmentFile(
  dir: string,
  n: number,
  text: string,
  options: SegmentWriteOptions = {},
): Promise<string> {
  const temp = await writeTemp(dir, text, options);
  const file = join(dir, segmentFileName(n));
  try {
    await link(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST')
      throw new BulkheadError('generation_conflict', `${file} exists: another sealer wrote it`);
    throw error;
  } finally {
    await unlink(temp);
  }
  await syncDir(dir);
  return file;
}

/** Replaces the file `name` in `dir` with `text` atomically (a synced temporary file, renamed). */
export async function replaceFile(
  dir: string,
  name: string,
  text: string,
  options: SegmentWriteOptions = {},
): Promise<void> {
  const temp = await writeTemp(dir, text, options);
  await rename(temp, join(dir, name));
  await syncDir(dir);
}

/** Replaces the pruning marker atomically. */
export async function writeMarker(
  dir: string,
  marker: PruneMarker,
  options: SegmentWriteOptions = {},
): Promise<void> {
  await replaceFile(dir, PRUNE_MARKER_FILE, `${JSON.stringify(marker)}\n`, options);
}

export async function removeSegmentFile(dir: string, name: string): Promise<void> {
  try {
    await unlink(join(dir, name));
  } catch (error) {
    if (!missing(error)) throw error;
  }
}
