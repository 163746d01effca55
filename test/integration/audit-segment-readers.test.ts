// The sealed segments' readers' group (kernel/audit/segment-files.ts, BULKHEAD_AUDIT_READER_GID, what
// docker-compose.yml gives the auditors' CLI): a process of another UID in that group lists and
// reads a tenant's segments and pruning marker and can change none of them; a process outside the
// group reads nothing, and without a readers' group neither can. Real files, real processes of other
// UIDs (the suite runs as root, as the supervisor does).
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signPruneMarker } from '../../kernel/audit/segment-chain.ts';
import {
  PRUNE_MARKER_FILE,
  tenantSegmentDir,
  writeMarker,
  writeSegmentFile,
} from '../../kernel/audit/segment-files.ts';

const READER_GID = 54_321;
const OUTSIDER_GID = 54_322;
const UID = 54_320;
const SEGMENT = 'segment-00000001.jsonl';

let root: string;

/**
 * What a process of UID with GID as its only group gets, for each step in order: `ok`, or the error
 * code (list the directory, read the segment, read the marker, write a file, remove the segment).
 */
function attempts(dir: string, gid: number): Promise<string[]> {
  const script = `
    const fs = require('node:fs');
    const path = require('node:path');
    const dir = ${JSON.stringify(dir)};
    const steps = [
      () => fs.readdirSync(dir),
      () => fs.readFileSync(path.join(dir, ${JSON.stringify(SEGMENT)})),
      () => fs.readFileSync(path.join(dir, ${JSON.stringify(PRUNE_MARKER_FILE)})),
      () => fs.writeFileSync(path.join(dir, 'forged.jsonl'), '{}'),
      () => fs.unlinkSync(path.join(dir, ${JSON.stringify(SEGMENT)})),
    ];
    console.log(JSON.stringify(steps.map((step) => { try { step(); return 'ok'; } catch (e) { return e.code; } })));`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { uid: UID, gid, env: {} }, (error, stdout, stderr) =>
      error ? reject(new Error(stderr || error.message)) : resolve(JSON.parse(stdout) as string[]),
    );
  });
}

async function sealedTenant(tenant: string, readerGid: number | undefined): Promise<string> {
  const dir = tenantSegmentDir(root, tenant);
  const { privateKey } = generateKeyPairSync('ed25519');
  await writeSegmentFile(dir, 1, '{"type":"header"}\n', { readerGid });
  const marker = signPruneMarker(
    {
      type: 'pruned',
      format: 'bulkhead-audit-segment/1',
      tenant,
      through_segment: 1,
      digest: '0'.repeat(64),
      last_seq: 1,
      last_hash: '0'.repeat(64),
      last_at: '2026-01-01T00:00:00.000Z',
      pruned_at: '2026-03-01T00:00:00.000Z',
    },
    privateKey,
  );
  await writeMarker(dir, marker, { readerGid });
  return dir;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bulkhead-audit-readers-'));
  // The installation's audit directory is traversable (docker-compose.yml: a volume's root, 0755).
  await chmod(root, 0o755);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("sealed audit segments and their readers' group", () => {
  it('let a process in the group list and read them, and change none of them', async () => {
    const dir = await sealedTenant('acme', READER_GID);
    for (const path of [dir, join(dir, SEGMENT), join(dir, PRUNE_MARKER_FILE)]) {
      const { gid, uid } = await stat(path);
      expect({ path, uid, gid }).toEqual({ path, uid: process.getuid?.(), gid: READER_GID });
    }
    expect((await stat(dir)).mode & 0o777).toBe(0o750);
    expect((await stat(join(dir, SEGMENT))).mode & 0o777).toBe(0o440);
    expect((await stat(join(dir, PRUNE_MARKER_FILE))).mode & 0o777).toBe(0o440);
    expect(await attempts(dir, READER_GID)).toEqual(['ok', 'ok', 'ok', 'EACCES', 'EACCES']);
  });

  it('keep a process outside the group out of the directory', async () => {
    const dir = tenantSegmentDir(root, 'acme');
    expect(await attempts(dir, OUTSIDER_GID)).toEqual(['EACCES', 'EACCES', 'EACCES', 'EACCES', 'EACCES']);
  });

  it('give no group access without a readers group (the writer alone)', async () => {
    const dir = await sealedTenant('solo', undefined);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, SEGMENT))).mode & 0o777).toBe(0o440);
    expect(await attempts(dir, READER_GID)).toEqual(['EACCES', 'EACCES', 'EACCES', 'EACCES', 'EACCES']);
  });

  // Segments sealed before keep their group (docs/audit.md says how to hand them over).
  it('bring a directory made before the group was set into it, and the new segments', async () => {
    const dir = await sealedTenant('upgraded', undefined);
    await writeSegmentFile(dir, 2, '{"type":"header"}\n', { readerGid: READER_GID });
    expect((await stat(dir)).mode & 0o777).toBe(0o750);
    expect((await stat(dir)).gid).toBe(READER_GID);
    expect((await stat(join(dir, 'segment-00000002.jsonl'))).gid).toBe(READER_GID);
  });
});
