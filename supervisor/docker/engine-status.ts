// The engine's HTTP status on a failed call (dockerode puts it on the error), and a call whose
// expected refusals mean "nothing to do": 304 not modified (already started, stopped, unpaused),
// 404 gone, 409 conflict.
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';

export function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | undefined)?.statusCode;
}

/** `promise`'s value, or undefined when the engine refused it with one of `statuses`; any other error throws. */
export async function ignoreStatus<T>(promise: Promise<T>, ...statuses: number[]): Promise<T | undefined> {
  try {
    return await promise;
  } catch (error) {
    if (statuses.includes(statusOf(error) ?? 0)) return undefined;
    throw error;
  }
}

/**
 * A tenant's container the engine no longer has (404) where the driver was to bring it up: removed
 * since it was created or seen (by an operator, or a reap of another path). One failure for the
 * caller, whatever step found it gone, never the engine's own 404.
 */
export function vanished(tenantId: string, when: string): BulkheadError {
  return new BulkheadError('runtime_failed', `container for tenant ${tenantId} vanished ${when}`);
}
