// One way to record a security event, whoever finds it (a router meeting a runtime that broke a read
// bound or an idempotency record that does not open, a router or supervisor meeting a tampered
// socket): logged, appended to the tenant's audit trail as a denial, and counted per tenant in a
// Redis hash of its kind (the supervisor exports the socket-tampering one as a metric; the router
// counts unreadable records in a metric of its own).
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { securityCountersKey, unreadableRecordsKey } from '../redis/keys.ts';
import type { AuditEvent, AuditSink } from './audit-trail.ts';

export interface SecurityEventSinks {
  audit: AuditSink;
  redis: Redis;
  logger: Logger;
}

export interface SecurityEvent {
  /** The audit entry (a denial of kind `security`). */
  entry: Omit<AuditEvent, 'decision' | 'kind'>;
  /** The Redis hash field incremented for it. */
  counter: { key: string; field: string };
  log: { level: 'warn' | 'error'; message: string; fields: Record<string, unknown> };
}

/** Resolves once the event is audited and counted. */
export async function recordSecurityEvent(sinks: SecurityEventSinks, event: SecurityEvent): Promise<void> {
  sinks.logger[event.log.level]({ tenant: event.entry.tenant, ...event.log.fields }, event.log.message);
  await Promise.all([
    sinks.audit.append({ ...event.entry, decision: 'deny', kind: 'security' }),
    sinks.redis.hincrby(event.counter.key, event.counter.field, 1),
  ]);
}

/**
 * An offboarded tenant's share of the router's security counts (read-bound breaches, a field per
 * `<tenant>:<kind>`; unreadable idempotency records, a field per tenant) goes with it, at its purge:
 * the hashes do not grow with every tenant ever offboarded, and the id onboarded again starts at
 * none. The events stay in its audit trail. (Its socket-tampering count: SocketTamperLog.forget.)
 */
export async function forgetRouterSecurityCounts(
  redis: Redis,
  prefix: string,
  tenant: string,
): Promise<void> {
  const breaches = securityCountersKey(prefix);
  let cursor = '0';
  do {
    // A tenant id holds no `:` and no glob character: the pattern matches this tenant's fields only.
    const [next, flat] = await redis.hscan(breaches, cursor, 'MATCH', `${tenant}:*`, 'COUNT', 1000);
    const fields = flat.filter((_, i) => i % 2 === 0);
    if (fields.length > 0) await redis.hdel(breaches, ...fields);
    cursor = next;
  } while (cursor !== '0');
  await redis.hdel(unreadableRecordsKey(prefix), tenant);
}
