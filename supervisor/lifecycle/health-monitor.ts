// The periodic health pass over every running tenant runtime: an MCP-level probe over its socket
// (a JSON-RPC ping through the runtime's MCP handler plus a store read), a look at its limits, and
// crash detection. A runtime whose socket was tampered with (client/runtime-socket.ts) is recycled
// at once; one that fails `failuresBeforeRecycle` probes in a row, crashed (killed, out of memory)
// or had a fork refused at its PIDs limit is recycled: routers are told, the old container drains
// and a fresh one starts, unless the tenant's crash circuit is open.
import type { Logger } from 'pino';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { specHash } from '../runtime/runtime-spec.ts';
import { isCrash, type RuntimeManager } from './runtime-manager.ts';
import type { RuntimeUsage } from '../runtime/runtime-driver.ts';
import { RecentLog } from './recent-log.ts';

/**
 * The share of the PIDs limit at which a runtime counts as fork-bombed when the driver cannot say
 * whether a fork was refused. An idle runtime uses about 12 of 64; a bomb swings below the limit
 * (a process that cannot fork exits), plateauing here at 44-58 of 64, lower on a loaded machine.
 */
export const PIDS_SATURATION = 0.6;

/** A fork refused at the limit (a counter: no sample can miss it), else the share above. */
export function pidsLimitReached(usage: RuntimeUsage): boolean {
  if (usage.pidsRefused !== undefined && usage.pidsRefused > 0) return true;
  return usage.pidsLimit > 0 && usage.pids >= PIDS_SATURATION * usage.pidsLimit;
}

export interface HealthMonitorOptions {
  manager: RuntimeManager;
  tenants: { get(id: string): Promise<TenantRecord | undefined> };
  logger: Logger;
  failuresBeforeRecycle?: number;
  /** Recycle a runtime older than this (default: no maximum age). */
  maxAgeMs?: number;
}

export class HealthMonitor {
  private readonly failures = new Map<string, number>();
  private readonly options: HealthMonitorOptions;
  /** The last recycles started, with their reason (bounded; `total` counts all). */
  readonly recycled = new RecentLog<{ tenantId: string; reason: string }>();

  constructor(options: HealthMonitorOptions) {
    this.options = options;
  }

  private async specChanged(tenantId: string, hash: string): Promise<boolean> {
    const tenant = await this.options.tenants.get(tenantId);
    return tenant !== undefined && specHash(this.options.manager.specFor(tenant)) !== hash;
  }

  async runOnce(): Promise<void> {
    const { manager } = this.options;
    const runtimes = await manager.driver.list();
    await Promise.all(
      runtimes.map(async (info) => {
        let reason: string | undefined;
        if (isCrash(info)) {
          manager.noteCrash(info);
          reason = info.exit?.oomKilled ? 'out of memory' : `crashed (exit ${info.exit?.code})`;
        } else if (info.state === 'running' && info.oomKilled) {
          // A process inside hit the memory limit and was killed: the survivor may be damaged.
          reason = 'out of memory';
        } else if (info.state === 'running' && (await this.specChanged(info.tenantId, info.specHash))) {
          reason = 'spec changed';
        } else if (
          info.state === 'running' &&
          this.options.maxAgeMs !== undefined &&
          Date.now() - Date.parse(info.createdAt ?? '') > this.options.maxAgeMs
        ) {
          reason = 'maximum age';
        } else if (info.state === 'running') {
          const usage = await manager.driver.usage(info.tenantId).catch(() => undefined);
          if (usage && pidsLimitReached(usage)) reason = 'PIDs limit reached';
          else if (usage && usage.memoryLimitBytes > 0 && usage.memoryPeakBytes >= usage.memoryLimitBytes)
            // The cgroup hit its memory limit, so the OOM killer ran inside: the survivor may be damaged.
            reason = 'memory limit reached';
          else {
            const health = await manager.check(info, 'supervisor-health');
            if (health === 'tampered') reason = 'socket tampered with';
            else if (health === 'healthy') this.failures.delete(info.tenantId);
            else {
              const count = (this.failures.get(info.tenantId) ?? 0) + 1;
              this.failures.set(info.tenantId, count);
              this.options.logger.warn({ tenant: info.tenantId, failures: count }, 'health check failed');
              if (count >= (this.options.failuresBeforeRecycle ?? 2))
                reason = `failed ${count} health checks`;
            }
          }
        }
        if (!reason) return;
        this.failures.delete(info.tenantId);
        const tenant = await this.options.tenants.get(info.tenantId);
        if (!tenant) return;
        if (manager.breaker.isOpen(info.tenantId)) {
          this.options.logger.warn({ tenant: info.tenantId, reason }, 'not recycling: crash circuit open');
          return;
        }
        this.recycled.push({ tenantId: info.tenantId, reason });
        await manager
          .recycle(tenant, reason)
          .catch((error: unknown) =>
            this.options.logger.warn({ tenant: info.tenantId, err: error }, 'recycle failed'),
          );
      }),
    );
  }
}
