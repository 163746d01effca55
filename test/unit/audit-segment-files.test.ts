// The audit directory's files are read as what they claim to be: a name planted there that is no
// regular file (a FIFO, a symbolic link to one or to a file outside the directory) is refused when it
// is read, instead of blocking the verifier or the sealer's pass, which waits on it for good.
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, symlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { segmentFileName } from '../../kernel/audit/audit-segment.ts';
import { nextLink, PRUNE_MARKER_FILE, walkSegmentFiles } from '../../kernel/audit/segment-files.ts';

const keys = generateKeyPairSync('ed25519');
let root: string;
let dir: string;
/** The FIFO's other end, held open by the test so that a reader blocked on it is let go at the end. */
let writer: FileHandle | undefined;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'audit-files-'));
  dir = join(root, 'acme');
  await mkdir(dir);
});

afterEach(async () => {
  await writer?.close();
  writer = undefined;
  await rm(root, { recursive: true, force: true });
});

const walk = () => walkSegmentFiles({ dir, publicKey: keys.publicKey, tenant: 'acme' });
const refused = { code: 'audit_verification_failed', message: expect.stringContaining('not a regular file') };

describe('files planted in the audit directory', () => {
  it('refuses a FIFO named as the newest segment, in verify and in the sealer', async () => {
    const fifo = join(dir, segmentFileName(1));
    execFileSync('mkfifo', [fifo]);
    writer = await open(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    await expect(walk()).rejects.toMatchObject(refused);
    await expect(nextLink(dir)).rejects.toMatchObject(refused);
  });

  it('refuses a symbolic link named as a segment or a marker, wherever it points', async () => {
    await symlink('/etc/hostname', join(dir, PRUNE_MARKER_FILE));
    await expect(walk()).rejects.toMatchObject(refused);
    await rm(join(dir, PRUNE_MARKER_FILE));
    await symlink('/etc/hostname', join(dir, segmentFileName(1)));
    await expect(walk()).rejects.toMatchObject(refused);
  });

  it('refuses a file too large to be a segment, naming it, without reading it', async () => {
    // Sparse: 3 GiB that take no room. Read whole, it failed with Node's bare "File size ... is
    // greater than 2 GiB" (and one under that, after reading it all, "Invalid string length"),
    // exit 1 from the CLI, naming no file.
    const huge = join(dir, segmentFileName(1));
    const file = await open(huge, 'w');
    await file.truncate(3 * 1024 ** 3);
    await file.close();
    const tooLarge = {
      code: 'audit_verification_failed',
      message: `${huge}: 3221225472 bytes, too large to be the sealer's (it writes a file from one string, at most 536870888 characters)`,
    };
    await expect(walk()).rejects.toMatchObject(tooLarge);
    await expect(nextLink(dir)).rejects.toMatchObject(tooLarge);
  });
});
