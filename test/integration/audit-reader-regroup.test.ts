// A trail sealed before the readers' group was set (BULKHEAD_AUDIT_READER_GID) is the supervisor's
// alone: its directory 0700 and its segments in the supervisor's own group. A pass with the group
// set gave it to what it wrote from then on, and the directory at its next segment; the segments
// sealed before kept their group, and an auditor (`bulkhead audit verify`, the console) failed on
// them, until someone ran chgrp by hand. Now a sealer's first pass gives them the group. Nothing it
// changes is followed: a link, or a hard link, planted under a sealed file's name keeps the group of
// the file it names. Real files, real Redis, the real CLI as another UID in the readers' group (the
// suite runs as root, as the supervisor does).
import { spawn } from 'node:child_process';
import { chmod, copyFile, link, lstat, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/compose.ts';
import { auditHarness, callEvent, type AuditHarness } from '../support/audit-harness.ts';

const AUDITOR_UID = 54_390;
const READER_GID = 54_391;

let h: AuditHarness;
/** The test's directory (traversable), the audit directory in it, and a copy of the public key. */
let base: string, auditDir: string, publicKey: string;

/** `bulkhead audit verify acme` as an auditor: another UID, the readers' group its only group. */
function verifyAsAuditor(): Promise<{ code: number | null; out: string }> {
  const args = ['tenants/cli/main.ts', 'audit', 'verify', 'acme', '--public-key', publicKey];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    uid: AUDITOR_UID,
    gid: READER_GID,
    env: { PATH: process.env.PATH ?? '', BULKHEAD_AUDIT_DIR: auditDir },
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out })));
}

async function appendCalls(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await h.trail.append(callEvent('acme', 'records_get'));
}

beforeAll(async () => {
  h = await auditHarness('regroup', ['acme']);
  // The audit directory lets the readers' group through (compose's volume is 0755).
  base = await mkdtemp(join(tmpdir(), 'bulkhead-regroup-'));
  await chmod(base, 0o755);
  auditDir = join(base, 'audit');
  await mkdir(auditDir, { mode: 0o755 });
  publicKey = join(base, 'audit-signing.pub');
  await copyFile(h.keys.publicKeyFile, publicKey);
  await chmod(publicKey, 0o644);
});

afterAll(async () => {
  await h?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

describe("a trail sealed before the readers' group was set", () => {
  it('is given the group at the first pass of a sealer that has it, and the auditor verifies it', async () => {
    await appendCalls(3);
    await h.sealer({ maxEntries: 100, dir: auditDir }).seal('acme');
    const acme = join(auditDir, 'acme');
    const first = join(acme, 'segment-00000001.jsonl');
    expect((await stat(acme)).mode & 0o777).toBe(0o700);
    const refused = await verifyAsAuditor();
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain(`${acme} is mode 0700, its owner's (uid 0) alone`);

    // Planted beside it: what no pass wrote, under the names of what it writes.
    const secrets = [join(base, 'linked-secret'), join(base, 'hard-linked-secret')];
    for (const secret of secrets) await writeFile(secret, 'not the auditors\u2019', { mode: 0o640 });
    const bravo = join(auditDir, 'bravo');
    await mkdir(bravo, { mode: 0o700 });
    await symlink(secrets[0]!, join(bravo, 'pruned.json'));
    await link(secrets[1]!, join(bravo, 'segment-00000001.jsonl'));

    await appendCalls(2);
    await h.sealer({ maxEntries: 100, dir: auditDir, readerGid: READER_GID }).runOnce();
    for (const path of [acme, first, join(acme, 'segment-00000002.jsonl')])
      expect((await stat(path)).gid).toBe(READER_GID);
    expect((await stat(acme)).mode & 0o777).toBe(0o750);
    // Its mode as written: read-only.
    expect((await stat(first)).mode & 0o777).toBe(0o440);
    const verified = await verifyAsAuditor();
    expect(verified).toMatchObject({ code: 0, out: expect.stringContaining('5 entries') });

    for (const secret of secrets) expect((await stat(secret)).gid).toBe(0);
    expect((await lstat(join(bravo, 'pruned.json'))).gid).toBe(0);
    expect((await stat(bravo)).gid).toBe(READER_GID);
  });
});
