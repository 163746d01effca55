// Reconciliation from labels, at start and periodically: the engine's labels are the record of
// ownership, the tenant registry says who should have a runtime. It adopts our containers (nothing
// to do: the driver finds them by name) and reports to the lifecycle controller, which removes
// orphans (no such tenant, or not active), duplicates (a second container labelled for one tenant)
// and leftover helpers (volume init), and recycles a runtime whose socket directory has vanished
// (its socket is unreachable for good). It only looks: a read-only view of the driver.
import type { Logger } from 'pino';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { RuntimeView } from '../runtime/runtime-driver.ts';
import type { RuntimeController } from './runtime-controller.ts';

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
  view: Pick<RuntimeView, 'listOwned' | 'socketDirExists' | 'inspect'>;
  controller: Pick<RuntimeController, 'observe'>;
  tenants: TenantSource;
  logger: Logger;
  /** Volume-init helpers younger than this are presumed in use by an ensure. */
  helperGraceMs: number;
}): Promise<ReconcileReport> {
  const { view, controller, logger } = options;
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
  for (const owned of await view.listOwned()) {
    if (owned.role === 'volume-init') {
      // A helper left behind by a crash mid-create: it never holds data. A young one may be
      // working for an ensure right now (the benchmark's fleet caught that): leave it alone.
      if (Date.now() - owned.createdAtMs < options.helperGraceMs) continue;
      await controller.observe({ kind: 'stray', owned, why: 'helper' }, undefined);
      report.helpersRemoved.push(owned.name);
    } else if (!owned.tenantId || !active.has(owned.tenantId)) {
      await controller.observe({ kind: 'stray', owned, why: 'orphan' }, undefined);
      report.orphansRemoved.push(owned.name);
    } else if (!owned.canonical) {
      // The canonical name is unique on the engine; anything else with the tenant's labels is extra.
      await controller.observe({ kind: 'stray', owned, why: 'duplicate' }, undefined);
      report.duplicatesRemoved.push(owned.name);
    } else if (!(await view.socketDirExists(owned.tenantId))) {
      // The bind mount points at a deleted directory: only a fresh container gets a reachable socket.
      const info = await view.inspect(owned.tenantId);
      if (info) await controller.observe({ kind: 'socket-dir-missing', info }, active.get(owned.tenantId));
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
