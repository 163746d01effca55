// A sealer killed while it makes a tenant's first segment directory (mkdtemp, chown, chmod, then
// the rename into place: kernel/audit/segment-files.ts) leaves a `.tmp-<tenant>-XXXXXX` directory
// in the audit directory. Left so by a real crash (test/support/crash-while-sealing-main.ts: the
// same code path, the process killed right before its rename), it is read as a tenant by none of
// the readers (the audit CLI, the trail the console reads, its start's check of the directories,
// the offboarded trails the sealer walks), the tenant's directory is still made by the next pass,
// and a sealer's first pass removes it once it is older than any making of a directory takes,
// leaving a younger one, and anything else of that name, alone. Real files, processes and Redis.
import { chmod, mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditReadProblem } from '../../kernel/audit/audit-access.ts';
import { offboardedDirs } from '../../kernel/audit/segment-files.ts';
import { readTrail } from '../../tenants/control-plane/audit-history.ts';
import {
  auditCli,
  auditHarness,
  callEvent,
  crashWhileSealing,
  type AuditHarness,
} from '../support/audit-harness.ts';
import { createPublicKey } from 'node:crypto';

const READER_GID = 54_351;
const MINUTE = 60_000;

let h: AuditHarness;
/** The directory the crash left, by name. */
let leftover: string;

const cli = (...args: string[]) => auditCli(h)(...args);

const sealer = () => h.sealer({ maxEntries: 100, readerGid: READER_GID });

async function temporaries(): Promise<string[]> {
  return (await readdir(h.auditDir)).filter((name) => name.startsWith('.tmp-')).sort();
}

beforeAll(async () => {
  h = await auditHarness('audit-temp-crash', ['acme', 'beta']);
  await mkdir(h.auditDir, { recursive: true });
  await chmod(h.auditDir, 0o755);
  // beta has a sealed trail beside the crash; acme's first entry waits for its first segment.
  await h.trail.append(callEvent('beta', 'records.search'));
  await sealer().seal('beta');
  await h.trail.append(callEvent('acme', 'records.search'));
  expect(await crashWhileSealing(h, { tenant: 'acme', readerGid: READER_GID, step: 'rename' })).toBe(
    'SIGKILL',
  );
  [leftover] = (await temporaries()) as [string];
}, 60_000);

afterAll(async () => {
  await h?.close();
});

describe('a sealer killed while it makes a tenant directory', () => {
  it('leaves a temporary directory that no reader takes for a trail', async () => {
    expect(leftover).toMatch(/^\.tmp-acme-[A-Za-z0-9]{6}$/);
    expect((await readdir(h.auditDir)).filter((n) => !n.startsWith('.tmp-'))).toEqual(['beta']);
    // The auditors' CLI: beta verifies, acme has no directory yet, the leftover is no tenant id.
    const beta = await cli('audit', 'verify', 'beta');
    expect({ code: beta.code, stderr: beta.stderr }).toEqual({ code: 0, stderr: '' });
    expect(beta.stdout).toContain('tenant beta');
    const acme = await cli('audit', 'verify', 'acme');
    expect({ code: acme.code, stderr: acme.stderr.trim() }).toEqual({
      code: 2,
      stderr: expect.stringContaining(`${join(h.auditDir, 'acme')}: no such audit directory`),
    });
    expect((await cli('audit', 'export', leftover)).code).toBe(2);
    // What the console reads: acme's trail (the entry still in Redis), and its start's check.
    const publicKey = createPublicKey(h.privateKey);
    const trail = await readTrail({
      trail: h.trail,
      tenant: 'acme',
      sealed: { root: h.auditDir, publicKey },
    });
    expect(trail.chain).toMatchObject({ ok: true, entries: 1 });
    expect(await auditReadProblem(h.auditDir)).toBeUndefined();
    // The sealer's walk of offboarded trails.
    expect(await offboardedDirs(h.auditDir)).toEqual([]);
  });

  it("has the next pass make the tenant's directory and seal into it, the young leftover kept", async () => {
    await sealer().runOnce();
    const dir = join(h.auditDir, 'acme');
    const made = await stat(dir);
    expect({ mode: made.mode & 0o777, gid: made.gid }).toEqual({ mode: 0o750, gid: READER_GID });
    expect(await readdir(dir)).toEqual(['segment-00000001.jsonl']);
    const acme = await cli('audit', 'verify', 'acme');
    expect(acme.code).toBe(0);
    expect(acme.stdout).toContain('1 entries');
    // Just made: a sealer could be making it now, so it stays.
    expect(await temporaries()).toEqual([leftover]);
  });

  it("has a sealer's first pass remove the old leftovers alone", async () => {
    const old = new Date(Date.now() - 11 * MINUTE);
    await utimes(join(h.auditDir, leftover), old, old);
    // What stays: one a sealer may be making now, one not empty, a file, a name of no tenant.
    await mkdir(join(h.auditDir, '.tmp-beta-Young1'));
    await mkdir(join(h.auditDir, '.tmp-delta-Full12'));
    await writeFile(join(h.auditDir, '.tmp-delta-Full12', 'kept'), '');
    await writeFile(join(h.auditDir, '.tmp-gamma-File12'), '');
    await mkdir(join(h.auditDir, '.tmp-notes'));
    for (const name of ['.tmp-delta-Full12', '.tmp-gamma-File12', '.tmp-notes'])
      await utimes(join(h.auditDir, name), old, old);
    await h.trail.append(callEvent('acme', 'records.search'));
    // A supervisor started again: its sealer's first pass.
    await sealer().runOnce();
    expect(await temporaries()).toEqual([
      '.tmp-beta-Young1',
      '.tmp-delta-Full12',
      '.tmp-gamma-File12',
      '.tmp-notes',
    ]);
    const acme = await cli('audit', 'verify', 'acme');
    expect(acme.code).toBe(0);
    expect(acme.stdout).toContain('2 entries');
  });
});
