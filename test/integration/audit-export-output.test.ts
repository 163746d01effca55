// `bulkhead audit export` to a stdout whose reader goes away before the end (piped into `head`, a
// SIEM's ingester that died), with the real CLI process on a trail the real sealer wrote from the
// real Redis: it says the export is not whole and exits 2, where it died of an unhandled 'error'
// event with a stack.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditHarness, callEvent, type AuditHarness } from '../support/audit-harness.ts';

const TENANT = 'piped';
let audit: AuditHarness;

beforeAll(async () => {
  audit = await auditHarness('audit-export-output', [TENANT]);
  // About 1 MB of records: far more than a pipe holds, so the export is still writing when its
  // reader goes away.
  await Promise.all(
    Array.from({ length: 3_000 }, () => audit.trail.append(callEvent(TENANT, 'records_create'))),
  );
  await audit.sealer({ maxEntries: 10_000 }).seal(TENANT);
});

afterAll(async () => {
  await audit?.close();
});

/** The export, its stdout read until its first chunk, then closed; its exit code and stderr. */
function exportReadOnce(): Promise<{ code: number | null; stderr: string; received: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['tenants/cli/main.ts', 'audit', 'export', TENANT], {
      env: {
        ...process.env,
        BULKHEAD_NAMESPACE: audit.ns.namespace,
        BULKHEAD_DEV_DIR: join(audit.ns.runDir, 'dev'),
        BULKHEAD_AUDIT_DIR: audit.auditDir,
        BULKHEAD_AUDIT_PUBLIC_KEY_FILE: audit.keys.publicKeyFile,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let received = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.once('data', (chunk: Buffer) => {
      received = chunk.toString();
      child.stdout.destroy();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, received }));
  });
}

describe('an export whose reader goes away', () => {
  it('says the export is not whole and exits 2, without a stack', async () => {
    const run = await exportReadOnce();
    expect(JSON.parse(run.received.split('\n')[0]!)).toMatchObject({ tenant: TENANT, seq: 1 });
    expect(run.stderr).not.toContain("Unhandled 'error' event");
    expect(run.stderr).toMatch(
      /^error: the output refused the records \(EPIPE\) after \d+ of them: the export is not whole\n$/,
    );
    expect(run.code).toBe(2);
  });
});
