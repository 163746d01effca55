// The newest segments removed from a trail the supervisor had shipped past them, against the real
// Redis, real files, the real shipper with a real OTLP/HTTP receiver, and the real CLI offline. The
// shipped record (shipped.json) is signed with the segments' key and names the newest segment the
// collector accepted: a trail on disk that ends before it was cut after shipping, and `bulkhead
// audit verify`, `export` and the console's view refuse it (exit 5) rather than call the shorter
// trail intact.
import { createPublicKey } from 'node:crypto';
import { cp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { segmentFileName } from '../../kernel/audit/audit-segment.ts';
import { SHIP_CURSOR_FILE } from '../../kernel/audit/segment-files.ts';
import type { AuditSealer } from '../../supervisor/audit/audit-sealer.ts';
import { readTrail } from '../../tenants/control-plane/audit-history.ts';
import { auditCli, auditHarness, callEvent, shipperTo, type AuditHarness } from '../support/audit-harness.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.ts';

const TENANT = 'cut-shipped';
let audit: AuditHarness;
let receiver: OtlpReceiver;
let sealer: AuditSealer;

/** `bulkhead audit <args>`, as an auditor runs it offline on the harness's segments. */
const cli = (...args: string[]) => auditCli(audit)('audit', ...args);

/** A copy of the tenant's shipped trail, for one tampering (`--dir`). */
async function copyOfTrail(name: string): Promise<string> {
  const dir = join(audit.ns.runDir, name);
  await cp(join(audit.auditDir, TENANT), dir, { recursive: true });
  return dir;
}

beforeAll(async () => {
  audit = await auditHarness('audit-shipped-end', [TENANT]);
  receiver = await startOtlpReceiver();
  sealer = audit.sealer({ maxEntries: 2, shipper: shipperTo(audit, receiver.logsUrl) });
  // Six calls sealed into segments 1 to 3, all three shipped.
  for (let n = 1; n <= 6; n++) await audit.trail.append(callEvent(TENANT, 'records_create'));
  await sealer.runOnce();
});

afterAll(async () => {
  await receiver?.close();
  await audit?.close();
});

describe('a shipped trail cut on disk', () => {
  it('verifies whole, shipped through its newest segment', async () => {
    expect(await readdir(join(audit.auditDir, TENANT))).toEqual(
      expect.arrayContaining([segmentFileName(3), SHIP_CURSOR_FILE]),
    );
    const run = await cli('verify', TENANT);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/intact: segments 1-3, 6 entries; .*shipped to the SIEM through segment 3/);
  });

  it('its newest segments removed: verify and export refuse it, naming where the shipped record ends', async () => {
    const dir = await copyOfTrail('newest-removed');
    await rm(join(dir, segmentFileName(3)));
    await rm(join(dir, segmentFileName(2)));
    const verified = await cli('verify', '--dir', dir);
    expect(verified.stdout).toBe('');
    expect(verified.stderr).toContain(
      'the trail ends at segment 1 (seq 2), the shipped record at segment 3 (seq 6): segments removed after they were shipped',
    );
    expect(verified.code).toBe(5);
    const out = join(audit.ns.runDir, 'newest-removed.jsonl');
    const exported = await cli('export', '--dir', dir, '--out', out);
    expect(exported.code).toBe(5);
    expect(exported.stderr).toContain('segments removed after they were shipped');
    expect(await readdir(audit.ns.runDir)).not.toContain('newest-removed.jsonl');
  });

  it('every segment removed, the shipped record left: refused by verify and the console, not "no segments"', async () => {
    // The live directory this time (the last test): the console's view reads it.
    const dir = join(audit.auditDir, TENANT);
    for (const n of [1, 2, 3]) await rm(join(dir, segmentFileName(n)));
    const verified = await cli('verify', TENANT);
    expect(verified.stdout).toBe('');
    expect(verified.stderr).toContain(
      'the trail ends at segment 0 (seq 0), the shipped record at segment 3 (seq 6): segments removed after they were shipped',
    );
    expect(verified.code).toBe(5);
    const sealed = { root: audit.auditDir, publicKey: createPublicKey(audit.privateKey) };
    const view = await readTrail({ trail: audit.trail, tenant: TENANT, sealed });
    expect(view.chain).toMatchObject({
      ok: false,
      problem: expect.stringContaining('segments removed after they were shipped'),
    });
  });
});
