// Reconciliation from labels, at start and periodically: the engine's labels are the record of
// ownership, the tenant registry says who should have a runtime. It adopts our containers (nothing
// to do: the driver finds them by name), removes orphans (no such tenant, or not active),
// duplicates (a second container labelled for one tenant) and leftover helpers (volume init), and
// recycles a runtime whose socket directory has vanished (its socket is unreachable for good).
import type { Logger } from 'pino';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { RuntimeManager } from './runtime-manager.ts';

/** A volume-init helper younger than this is presumed in use. */
export const HELPER_GRACE_MS = 120_000;

export interface TenantSource {
  list(): Promise<TenantRecord[]>;
}

export interface ReconcileReport {
  adopted: string[];
  orphansRemoved: string[];
  duplicatesRemoved: string[];
  helpersRemoved: string[];
  socketDirsRecreated: string[];
}

export async function reconcile(options: {
  manager: RuntimeManager;
  tenants: TenantSource;
  logger: Logger;
  helperGraceMs?: number;
}): Promise<ReconcileReport> {
  const { manager, logger } = options;
  const driver = manager.driver;
  const report: ReconcileReport = {
    adopted: [],
    orphansRemoved: [],
    duplicatesRemoved: [],
    helpersRemoved: [],
    socketDirsRecreated: [],
  };
  const active = new Map(
    (await options.tenants.list()).filter((t) => t.status === 'active').map((t) => [t.id, t]),
  );
  for (const owned of await driver.listOwned()) {
    if (owned.role === 'volume-init') {
      // A helper left behind by a crash mid-create: it never holds data. A young one may be
      // working for an ensure right now (the benchmark's fleet caught that): leave it alone.
      if (Date.now() - owned.createdAtMs < (options.helperGraceMs ?? HELPER_GRACE_MS)) continue;
      await driver.removeById(owned.runtimeId);
      report.helpersRemoved.push(owned.name);
    } else if (!owned.tenantId || !active.has(owned.tenantId)) {
      await manager.withTenant(owned.tenantId ?? owned.runtimeId, () => driver.removeById(owned.runtimeId));
      report.orphansRemoved.push(owned.name);
    } else if (!owned.canonical) {
      // The canonical name is unique on the engine; anything else with the tenant's labels is extra.
      await manager.withTenant(owned.tenantId, () => driver.removeById(owned.runtimeId));
      report.duplicatesRemoved.push(owned.name);
    } else if (!(await driver.socketDirExists(owned.tenantId))) {
      // The bind mount points at a deleted directory: only a fresh container gets a reachable socket.
      await manager.recycle(active.get(owned.tenantId)!, 'socket directory missing');
      report.socketDirsRecreated.push(owned.tenantId);
    } else {
      report.adopted.push(owned.tenantId);
    }
  }
  const changed =
    report.orphansRemoved.length +
    report.duplicatesRemoved.length +
    report.helpersRemoved.length +
    report.socketDirsRecreated.length;
  if (changed > 0) logger.info(report, 'reconciled');
  return report;
}
