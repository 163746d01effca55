// The policy for Redis not answering (router/pipeline/state-guard.ts): a state step that fails or
// does not settle within the deadline becomes `state_unavailable` (transient); only read-only
// shared tools may fail open, and only when configured to. The Redis client's own deadline, and both
// after an event-loop stall: test/integration/state-client.test.ts.
import { describe, expect, it } from 'vitest';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { errorRow } from '../../kernel/errors/error-codes.ts';
import { RECORDS_TOOLS, SHARED_TOOLS } from '../../kernel/packs/manifest.ts';
import { failsOpen, StateRedis, withinDeadline } from '../../router/pipeline/state-guard.ts';

async function refusal(work: Promise<unknown>, deadlineMs: number): Promise<unknown> {
  return withinDeadline(work, { deadlineMs }).then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('withinDeadline', () => {
  it('passes a result that arrives in time through', async () => {
    await expect(withinDeadline(Promise.resolve(42), { deadlineMs: 50 })).resolves.toBe(42);
  });

  it('turns a failure into a transient state_unavailable error with retry_after_ms', async () => {
    const error = await refusal(Promise.reject(new Error('Stream is not writeable')), 1_000);
    expect(isBulkheadError(error) && error.code).toBe('state_unavailable');
    expect(errorRow('state_unavailable').class).toBe('transient');
    expect(isBulkheadError(error) && error.retryAfterMs).toBeGreaterThan(0);
  });

  it('answers at the deadline when the work never settles', async () => {
    const started = performance.now();
    const error = await refusal(new Promise(() => undefined), 30);
    expect(isBulkheadError(error) && error.code).toBe('state_unavailable');
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });
});

describe('failsOpen', () => {
  const on = { deadlineMs: 1_000, failOpenSharedReads: true };
  const off = { ...on, failOpenSharedReads: false };
  const whoami = SHARED_TOOLS.find((def) => def.name === 'whoami');

  it('never lets a tenant tool fail open, read or write', () => {
    expect(RECORDS_TOOLS.some((def) => !def.writes)).toBe(true);
    for (const def of RECORDS_TOOLS) expect(failsOpen(def, on)).toBe(false);
  });

  it('lets a read-only shared tool fail open only when configured to', () => {
    if (!whoami) throw new Error('whoami is not in the manifest');
    expect(failsOpen(whoami, off)).toBe(false);
    expect(failsOpen(whoami, on)).toBe(true);
    expect(failsOpen({ ...whoami, writes: true }, on)).toBe(false);
  });
});

describe('StateRedis', () => {
  it("bounds every command: no offline queue, one retry, its own deadline in place of ioredis's", () => {
    const client = new StateRedis(
      { lazyConnect: true, enableOfflineQueue: true, commandTimeout: 60_000 },
      { deadlineMs: 750 },
    );
    expect(client.options).toMatchObject({ enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    expect(client.options.commandTimeout).toBeUndefined();
    client.disconnect();
  });
});
