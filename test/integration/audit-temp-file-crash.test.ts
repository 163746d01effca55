// A sealer killed while it writes a segment (its temporary file written, synced and made read-only,
// right before the link that gives it its name: kernel/audit/segment-files.ts) leaves a
// `.tmp-<pid>-<hex>` file in the tenant's directory, as large as the segment. Left so by a real
// crash (test/support/crash-while-sealing-main.ts), it is read by none of the readers (the audit
// CLI, the console's start check), the next pass seals the entries it held into the segment of
// that number, and a sealer's first pass removes it once it is older than any writing of a segment
// takes, from a live tenant's directory and an offboarded one's alike, leaving a younger one, a
// symbolic link of that name (and what it names), a directory, any other name, and a trail's
// directory that is a link, alone. Real files, processes and Redis.
import {
  chmod,
  lstat,
  lutimes,
  mkdir,
  readdir,
  readFile,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditReadProblem } from '../../kernel/audit/audit-access.ts';
import { listSegments } from '../../kernel/audit/segment-files.ts';
import type { AuditHarness } from '../support/audit-harness.ts';
import { auditCli, auditHarness, callEvent, crashWhileSealing } from '../support/audit-harness.ts';

const READER_GID = 54_371;
const MINUTE = 60_000;
const TEMP_FILE = /^\.tmp-\d+-[0-9a-f]{12}$/;

let h: AuditHarness;
/** The file the crash left in acme's directory, by name. */
let leftover: string;

const cli = (...args: string[]) => auditCli(h)(...args);

const sealer = () => h.sealer({ maxEntries: 100, readerGid: READER_GID });

async function temporaries(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith('.tmp-')).sort();
}

beforeAll(async () => {
  h = await auditHarness('audit-temp-file', ['acme', 'beta']);
  await mkdir(h.auditDir, { recursive: true });
  await chmod(h.auditDir, 0o755);
  for (const tenant of ['acme', 'beta']) {
    await h.trail.append(callEvent(tenant, 'records.search'));
    await sealer().seal(tenant);
  }
  // acme's second entry waits for its second segment when the sealer dies.
  await h.trail.append(callEvent('acme', 'records.search'));
  expect(await crashWhileSealing(h, { tenant: 'acme', readerGid: READER_GID, step: 'link' })).toBe('SIGKILL');
  [leftover] = (await temporaries(join(h.auditDir, 'acme'))) as [string];
}, 60_000);

afterAll(async () => {
  await h?.close();
});

describe('a sealer killed while it writes a segment', () => {
  it("leaves a temporary file in the tenant's directory that no reader takes for a segment", async () => {
    expect(leftover).toMatch(TEMP_FILE);
    const left = await stat(join(h.auditDir, 'acme', leftover));
    expect({ file: left.isFile(), mode: left.mode & 0o777, gid: left.gid }).toEqual({
      file: true,
      mode: 0o440,
      gid: READER_GID,
    });
    expect((await listSegments(join(h.auditDir, 'acme'))).map((s) => s.name)).toEqual([
      'segment-00000001.jsonl',
    ]);
    const acme = await cli('audit', 'verify', 'acme');
    expect({ code: acme.code, stderr: acme.stderr }).toEqual({ code: 0, stderr: '' });
    expect(acme.stdout).toContain('1 entries');
    expect(await auditReadProblem(h.auditDir)).toBeUndefined();
  });

  it('has the next pass seal what the crash did not, the young leftover kept', async () => {
    await sealer().runOnce();
    const acme = await cli('audit', 'verify', 'acme');
    expect(acme.code).toBe(0);
    expect(acme.stdout).toContain('2 entries');
    // Just written: a sealer could be writing it now, so it stays.
    expect(await temporaries(join(h.auditDir, 'acme'))).toEqual([leftover]);
  });

  it("has a sealer's first pass remove the old leftovers alone, a link's target never", async () => {
    const old = new Date(Date.now() - 11 * MINUTE);
    const acmeDir = join(h.auditDir, 'acme');
    const betaDir = join(h.auditDir, 'beta');
    await utimes(join(acmeDir, leftover), old, old);
    // An offboarded trail's directory (no marker: the sealer retires none of it) with one as old.
    const offboarded = join(h.auditDir, 'gamma.offboarded-2026-01-01T00-00-00-000Z');
    await mkdir(offboarded);
    await writeFile(join(offboarded, '.tmp-4242-0123456789ab'), 'segment bytes\n');
    await utimes(join(offboarded, '.tmp-4242-0123456789ab'), old, old);
    // What stays: one a sealer may be writing now, a link of that name (and the file it names), a
    // directory of that name, a name the writer never gives, a file in no trail's directory, and
    // a trail's directory that is a link.
    await writeFile(join(betaDir, '.tmp-4243-aaaaaaaaaaaa'), 'being written\n');
    const target = join(h.ns.runDir, 'outside-target');
    await writeFile(target, "not the sealer's\n");
    await symlink(target, join(betaDir, '.tmp-4244-bbbbbbbbbbbb'));
    await lutimes(join(betaDir, '.tmp-4244-bbbbbbbbbbbb'), old, old);
    await mkdir(join(betaDir, '.tmp-4245-cccccccccccc'));
    await writeFile(join(betaDir, '.tmp-notes'), '');
    await mkdir(join(h.auditDir, '.notes'));
    await writeFile(join(h.auditDir, '.notes', '.tmp-4246-dddddddddddd'), '');
    const elsewhere = join(h.ns.runDir, 'elsewhere');
    await mkdir(elsewhere);
    await writeFile(join(elsewhere, '.tmp-4247-eeeeeeeeeeee'), '');
    await symlink(elsewhere, join(h.auditDir, 'delta'));
    for (const path of [
      join(betaDir, '.tmp-4245-cccccccccccc'),
      join(betaDir, '.tmp-notes'),
      join(h.auditDir, '.notes', '.tmp-4246-dddddddddddd'),
      join(elsewhere, '.tmp-4247-eeeeeeeeeeee'),
    ])
      await utimes(path, old, old);
    await h.trail.append(callEvent('acme', 'records.search'));
    // A supervisor started again: its sealer's first pass.
    await sealer().runOnce();
    expect({
      acme: await temporaries(acmeDir),
      beta: await temporaries(betaDir),
      offboarded: await temporaries(offboarded),
      notes: await temporaries(join(h.auditDir, '.notes')),
      elsewhere: await temporaries(elsewhere),
    }).toEqual({
      acme: [],
      beta: ['.tmp-4243-aaaaaaaaaaaa', '.tmp-4244-bbbbbbbbbbbb', '.tmp-4245-cccccccccccc', '.tmp-notes'],
      offboarded: [],
      notes: ['.tmp-4246-dddddddddddd'],
      elsewhere: ['.tmp-4247-eeeeeeeeeeee'],
    });
    expect((await lstat(join(betaDir, '.tmp-4244-bbbbbbbbbbbb'))).isSymbolicLink()).toBe(true);
    expect(await readFile(target, 'utf8')).toBe("not the sealer's\n");
    const acme = await cli('audit', 'verify', 'acme');
    expect(acme.code).toBe(0);
    expect(acme.stdout).toContain('3 entries');
  });
});
