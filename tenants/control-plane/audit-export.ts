// Exports a tenant's audit trail as JSON lines plus a chain check, for offboarding and auditors.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditTrail, ChainCheck } from '../../kernel/audit/audit-trail.ts';

export interface AuditExport {
  file: string;
  checkFile: string;
  check: ChainCheck;
}

export async function exportAuditTrail(trail: AuditTrail, tenant: string, dir: string): Promise<AuditExport> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { entries, check } = await trail.read(tenant);
  const file = join(dir, `${tenant}-audit.jsonl`);
  const checkFile = join(dir, `${tenant}-audit-check.json`);
  await writeFile(file, entries.map((e) => JSON.stringify(e)).join('\n') + (entries.length ? '\n' : ''), {
    mode: 0o600,
  });
  await writeFile(
    checkFile,
    JSON.stringify({ tenant, exportedAt: new Date().toISOString(), ...check }, null, 2),
    {
      mode: 0o600,
    },
  );
  return { file, checkFile, check };
}
