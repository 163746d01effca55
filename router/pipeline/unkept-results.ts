// What the router does when a write's result is not kept for replays, its tenant being at its byte
// budget (result-keeping.ts): every such write is counted by tool (and tenant, where the metrics
// carry it) in `bulkhead_idempotency_results_unkept_total`, and the first of a run of them, across
// every router (the budget's script says which), is logged with what the tenant keeps. Not a
// security event: an honest pack with large results reaches the budget too. The write was
// answered, and its replays are answered by the tenant runtime's key table.
import type { Logger } from 'pino';
import type { RouterMetrics } from '../metrics/router-metrics.ts';
import type { IdempotencyScope } from './idempotency.ts';
import type { UnkeptResult } from './result-keeping.ts';

/** The idempotency store's `onUnkept`. */
export function unkeptResultRecorder(options: {
  logger: Logger;
  metrics: RouterMetrics;
}): (scope: IdempotencyScope, unkept: UnkeptResult) => void {
  const { logger, metrics } = options;
  return ({ tenant, tool }, { first, keptBytes, maxBytes }) => {
    metrics.idempotencyResultUnkept({ tenant, tool });
    if (!first) return;
    logger.warn(
      { tenant, tool, keptBytes, maxBytes, event: 'idempotency_results_unkept' },
      "the tenant's write results reached its byte budget in Redis (BULKHEAD_IDEMPOTENCY_RESULT_BYTES): writes are answered, their results not kept until earlier ones expire; replays are answered by the tenant runtime's key table",
    );
  };
}
