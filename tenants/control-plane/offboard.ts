// Offboarding drains (suspends, so new calls are refused, and waits for routers' caches to see it),
// removes the container, exports the audit trail with its chain check, then destroys the data volume, socket directory, secrets and the record, and returns a
// receipt of everything destroyed.
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { atPath } from '../../kernel/errors/path-refusal.ts';
import { exportAuditTrail, type AuditExport } from './audit-export.ts';
import { TenantIdSchema } from '../../kernel/tenant/tenant-spec.ts';
import type { ControlPlane, Progress } from './context.ts';

/** Routers cache tenant records for 2 s (router/tenancy/tenant-directory.ts); drain a little longer. */
export const DRAIN_MS = 2_500;

export interface OffboardReceipt {
  tenant: string;
  uid: number;
  destroyed: string[];
  audit: AuditExport | null;
  /** What the supervisor found absent after the purge (a purge that finds anything left fails). */
  checked: string;
  at: string;
}

export async function offboardTenant(
  deps: ControlPlane,
  id: string,
  options: { auditDir: string; drainMs?: number },
  progress: Progress,
): Promise<OffboardReceipt> {
  const tenant = await deps.registry.require(TenantIdSchema.parse(id));
  // Checked before anything changes: a directory the export cannot be written to, found only after
  // the drain and the container's removal, left the tenant half offboarded.
  if (tenant.retention.exportAuditOnOffboard)
    await atPath({ path: options.auditDir, verb: 'write' }, async () => {
      await mkdir(options.auditDir, { recursive: true, mode: 0o700 });
      await access(options.auditDir, constants.W_OK);
    });
  progress(`draining: suspending "${tenant.id}" so that new calls are refused`);
  const drained =
    tenant.status === 'suspended'
      ? tenant
      : await deps.registry.update(tenant.id, {
          expectedGeneration: tenant.generation,
          expectedUid: tenant.uid,
          changes: { status: 'suspended' },
          author: { actor: deps.actor, reason: 'offboard: drain' },
        });
  await sleep(options.drainMs ?? DRAIN_MS);
  progress('stopping and removing the container');
  await deps.runtimes.remove(tenant.id, { purgeData: false });
  let audit: AuditExport | null = null;
  if (tenant.retention.exportAuditOnOffboard) {
    progress(`exporting the audit trail to ${options.auditDir}`);
    audit = await exportAuditTrail(deps.audit, tenant.id, options.auditDir);
    progress(
      `audit trail: ${audit.check.entries} entries, chain ${audit.check.ok ? 'intact' : `BROKEN (${audit.check.problem ?? ''})`}`,
    );
  }
  // The supervisor's purge fails, naming what it found, unless a second look finds nothing left
  // (supervisor/docker/tenant-purge.ts); the record stays, so offboarding can run again. Before it,
  // the supervisor seals the trail and keeps its segments under this record's retention
  // (AuditSealer.offboard): it needs the record, so this comes before the record's delete.
  progress('destroying the data volume and the socket directory, then checking that nothing is left');
  await deps.runtimes.remove(tenant.id, { purgeData: true });
  progress('destroying secrets');
  const secrets = await deps.secrets.destroyAll(tenant.id);
  progress('removing the registry record');
  // Only the suspended generation this drained: a resume or an apply since made the tenant active
  // again, and its calls may have brought up a runtime and a volume after the purge, which a deleted
  // record would leave to no one. A conflict keeps the record: offboarding runs again. A secret set
  // meanwhile is such a change too (its value is stored only with a new generation, secrets.ts), so
  // no value stored after destroyAll above outlives the record.
  await deps.registry.delete(
    tenant.id,
    { actor: deps.actor, reason: 'offboard' },
    { expectedGeneration: drained.generation, expectedUid: drained.uid },
  );
  // At once, and again after the wait below: once the record is gone, offboarding cannot be run
  // again, so one stopped in that wait left the trail in Redis without an expiry, for good.
  await deps.audit.expireAfter(tenant.id, tenant.retention.auditDays);
  // Its isolation evidence describes a container now gone: kept, the console would show it as the
  // evidence of a tenant onboarded later under the same id, never checked itself.
  await deps.evidence?.forget(tenant.id);
  // Routers serve the record they cached for a moment after its delete, and record the calls they
  // refuse with it (tenant_suspended); after that, a tenant without a record gets no entry
  // (router/mcp/call-audit.ts). Waited for, so that those late entries get the expiry below too.
  progress("waiting for the routers' cached record to lapse");
  await sleep(options.drainMs ?? DRAIN_MS);
  // What the supervisor could not seal (no signing key, or a chain that does not continue the
  // segments) stays in Redis for the retention, then goes; the id registered again before that
  // starts a trail of its own (earlier-trail.ts). Again here for a trail the late refusals started
  // after a seal had closed the tenant's.
  await deps.audit.expireAfter(tenant.id, tenant.retention.auditDays);
  return {
    tenant: tenant.id,
    uid: tenant.uid,
    destroyed: [
      'container',
      'data volume',
      'socket directory',
      `secrets (${secrets.length}${secrets.length ? `: ${secrets.join(', ')}` : ''})`,
      'registry record',
    ],
    audit,
    checked:
      'no container labelled for the tenant or mounting its volume, no data volume, no socket directory',
    at: new Date().toISOString(),
  };
}
