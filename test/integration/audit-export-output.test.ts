// `bulkhead audit export` to a stdout whose reader goes away before the end (piped into `head`, a
// SIEM's ingester that died), with the real CLI process on a trail the real sealer wrote from the
// real Redis: it says the export is not whole and exits 2, where it died of an unhandled 'error'
// event with a stack; and an export told to write where its rename would replace something else (a
// device, a FIFO, a symbolic link, a directory) refuses before it writes, where it replaced it.
import { spawn, spawnSync } from 'node:child_process';
import { lstat, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
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

function cliEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    BULKHEAD_NAMESPACE: audit.ns.namespace,
    BULKHEAD_DEV_DIR: join(audit.ns.runDir, 'dev'),
    BULKHEAD_AUDIT_DIR: audit.auditDir,
    BULKHEAD_AUDIT_PUBLIC_KEY_FILE: audit.keys.publicKeyFile,
  };
}

/** The export, its stdout read until its first chunk, then closed; its exit code and stderr. */
function exportReadOnce(): Promise<{ code: number | null; stderr: string; received: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['tenants/cli/main.ts', 'audit', 'export', TENANT], {
      env: cliEnv(),
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

describe('an export told to write over something a rename would replace', () => {
  it('refuses a FIFO, a symbolic link and a directory before writing, and leaves each as it was', async () => {
    const dir = join(audit.ns.runDir, 'export-out');
    await mkdir(join(dir, 'a-directory'), { recursive: true });
    expect(spawnSync('mkfifo', [join(dir, 'a-fifo')]).status).toBe(0);
    await writeFile(join(dir, 'elsewhere'), 'kept\n');
    await symlink(join(dir, 'elsewhere'), join(dir, 'a-link'));
    const kinds = {
      'a-fifo': 'not a regular file',
      'a-link': 'a symbolic link',
      'a-directory': 'a directory',
    };
    for (const [name, kind] of Object.entries(kinds)) {
      const out = join(dir, name);
      const run = spawnSync(
        process.execPath,
        ['tenants/cli/main.ts', 'audit', 'export', TENANT, '--out', out],
        {
          env: cliEnv(),
          encoding: 'utf8',
        },
      );
      expect(run.stderr).toContain(`--out ${out}: ${kind}, which the export would replace`);
      expect(run.status).toBe(2);
    }
    expect((await lstat(join(dir, 'a-fifo'))).isFIFO()).toBe(true);
    expect((await lstat(join(dir, 'a-link'))).isSymbolicLink()).toBe(true);
    expect((await lstat(join(dir, 'a-directory'))).isDirectory()).toBe(true);
    // Nothing written beside them either.
    expect((await readdir(dir)).sort()).toEqual(['a-directory', 'a-fifo', 'a-link', 'elsewhere']);
  });

  it('still writes a new path, and a regular file over again', async () => {
    const out = join(audit.ns.runDir, 'export-out', 'records.jsonl');
    for (let i = 0; i < 2; i++) {
      const run = spawnSync(
        process.execPath,
        ['tenants/cli/main.ts', 'audit', 'export', TENANT, '--out', out],
        {
          env: cliEnv(),
          encoding: 'utf8',
        },
      );
      expect(run.stderr).toContain(`exported 3000 records to ${out}`);
      expect(run.status).toBe(0);
      expect((await lstat(out)).isFile()).toBe(true);
    }
  });
});
