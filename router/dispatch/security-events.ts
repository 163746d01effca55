// What the router does when a tenant runtime breaks a read bound (bounded-fetch.ts): the runtime
// is treated as compromised. The event is logged, appended to the tenant's audit trail, counted
// per tenant and kind in Redis, and the supervisor is asked to replace the container.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RecycleJob } from '../../supervisor/client/runtime-jobs.ts';
import type { AuditSink } from '../../kernel/audit/audit-trail.ts';
import { recordSecurityEvent } from '../../kernel/audit/security-event.ts';
import { securityCountersKey } from '../../kernel/redis/keys.ts';
import type { ReadBreach } from './tenant-dispatcher.ts';

export interface BreachRecorderOptions {
  logger: Logger;
  audit: AuditSink;
  redis: Redis;
  /** The installation's registry prefix: the counters live in `securityCountersKey(prefix)`. */
  prefix: string;
  recycle: (request: RecycleJob) => Promise<void>;
}

/** The dispatcher's `onBreach`: resolves once the event is audited and counted. */
export function createBreachRecorder(options: BreachRecorderOptions): (breach: ReadBreach) => Promise<void> {
  const { logger, prefix } = options;
  return async ({ context, tool, kind, message, runtimeId }) => {
    const reason = `read_bound:${kind}`;
    // The recycle drains the old container first: it runs in the background, past this call.
    options
      .recycle({ tenantId: context.tenant, reason, failed: true, ...(runtimeId ? { runtimeId } : {}) })
      .catch((error: unknown) =>
        logger.error({ tenant: context.tenant, err: error }, 'security recycle failed'),
      );
    await recordSecurityEvent(options, {
      entry: { tenant: context.tenant, user: context.user, agent: context.agent, tool, reason },
      counter: { key: securityCountersKey(prefix), field: `${context.tenant}:${kind}` },
      log: {
        level: 'warn',
        message: 'security event: a tenant runtime broke a read bound; recycling it',
        fields: { securityEvent: reason, tool, runtimeId, detail: message },
      },
    });
  };
}
