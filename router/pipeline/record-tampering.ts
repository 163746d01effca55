// What the router does when one of its idempotency records in Redis does not open
// (record-sealing.ts): changed there, moved from another tenant's, tool's or key's place, written in
// clear, or sealed under another installation secret. Whoever did it had Redis's write access, so it
// is a security event: logged, appended to the tenant's audit trail as a denial of kind `security`
// (`idempotency_record_unreadable`), where a compliance reviewer finds it, and counted per tenant
// in Redis. The call itself goes on (idempotency.ts gives the record back and runs the write again).
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuditSink } from '../../kernel/audit/audit-trail.ts';
import { recordSecurityEvent } from '../../kernel/audit/security-event.ts';
import { unreadableRecordsKey } from '../../kernel/redis/keys.ts';
import type { IdempotencyScope } from './idempotency.ts';

export const UNREADABLE_RECORD = 'idempotency_record_unreadable';

/** The idempotency store's `onUnreadable`: records the event without holding the call up. */
export function unreadableRecordRecorder(options: {
  logger: Logger;
  audit: AuditSink;
  redis: Redis;
  /** The installation's registry prefix: the counter lives in `unreadableRecordsKey(prefix)`. */
  prefix: string;
}): (scope: IdempotencyScope) => void {
  const { logger, prefix } = options;
  return ({ tenant, tool }) => {
    recordSecurityEvent(options, {
      entry: { tenant, user: null, agent: null, tool, reason: UNREADABLE_RECORD },
      counter: { key: unreadableRecordsKey(prefix), field: tenant },
      log: {
        level: 'error',
        message:
          'security event: an idempotency record in Redis did not open (changed, moved, written in clear, or sealed under another secret): given back, not replayed',
        fields: { securityEvent: UNREADABLE_RECORD, event: UNREADABLE_RECORD, tool },
      },
    }).catch((error: unknown) =>
      logger.error({ tenant, tool, err: error }, 'unreadable idempotency record not audited'),
    );
  };
}
