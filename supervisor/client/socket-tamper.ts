// A tampered runtime socket is a security event, wherever it is found (a router's call or tool
// check, the supervisor's health probe or start-up wait): logged, appended to the tenant's audit
// trail, and counted per tenant in Redis. Recycling the runtime is the caller's part: the
// supervisor recycles directly, a router asks the supervisor for it (RuntimeClient.requestRecycle).
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuditSink } from '../../kernel/audit/audit-trail.ts';
import { recordSecurityEvent } from '../../kernel/audit/security-event.ts';
import { socketTamperKey } from '../../kernel/redis/keys.ts';
import { describeFound, type RuntimeSocketTamperedError } from './runtime-socket.ts';

/** Who found the tampering: recorded as the audit entry's agent. */
export type TamperWitness = 'bulkhead-router' | 'supervisor-health' | 'supervisor-start';

/** What the audit entry names as the "tool": the runtime's socket, not a tenant tool. */
export const SOCKET_AUDIT_TOOL = 'runtime-socket';

export interface TamperRecorder {
  record(tenant: string, error: RuntimeSocketTamperedError, witness: TamperWitness): Promise<void>;
}

export class SocketTamperLog implements TamperRecorder {
  private readonly options: { redis: Redis; prefix: string; audit: AuditSink; logger: Logger };

  constructor(options: { redis: Redis; prefix: string; audit: AuditSink; logger: Logger }) {
    this.options = options;
  }

  async record(tenant: string, error: RuntimeSocketTamperedError, witness: TamperWitness): Promise<void> {
    const found = describeFound(error.found, error.expectedUid);
    await recordSecurityEvent(this.options, {
      entry: {
        tenant,
        user: null,
        agent: witness,
        tool: SOCKET_AUDIT_TOOL,
        reason: `security: runtime socket tampered with (found ${found}); not connected; runtime recycled`,
      },
      counter: { key: socketTamperKey(this.options.prefix), field: tenant },
      log: {
        level: 'error',
        message: 'security: runtime socket tampered with; not connected, runtime to be recycled',
        fields: { socket: error.socketPath, found: error.found, expectedUid: error.expectedUid, witness },
      },
    });
  }

  /**
   * An offboarded tenant's count goes with it (its purge): its series leaves the supervisor's
   * /metrics, and the id onboarded again starts at none. The events stay in its audit trail.
   */
  async forget(tenant: string): Promise<void> {
    await this.options.redis.hdel(socketTamperKey(this.options.prefix), tenant);
  }

  /** Detections so far, per tenant (for metrics). */
  async counts(): Promise<Record<string, number>> {
    const all = await this.options.redis.hgetall(socketTamperKey(this.options.prefix));
    return Object.fromEntries(Object.entries(all).map(([tenant, n]) => [tenant, Number(n)]));
  }
}
