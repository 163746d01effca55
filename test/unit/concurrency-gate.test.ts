// The per-tenant cap on calls in flight (kernel/process/concurrency-gate.ts): `maxInFlight` slots,
// then a queue of `maxQueued` served in order, a bounded wait, then `concurrency_limit` (rate_limit)
// with retry_after_ms; tenants have separate lanes.
import { describe, expect, it } from 'vitest';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { errorRow } from '../../kernel/errors/error-codes.ts';
import { ConcurrencyGate } from '../../kernel/process/concurrency-gate.ts';

async function refusal(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('ConcurrencyGate', () => {
  it('admits maxInFlight calls of a tenant at once, then queues, then refuses with concurrency_limit', async () => {
    const gate = new ConcurrencyGate({ maxInFlight: 2, maxQueued: 1, maxWaitMs: 10_000 });
    const first = await gate.acquire('a');
    await gate.acquire('a');
    const waiting = gate.acquire('a');
    expect(gate.load('a')).toEqual({ inFlight: 2, queued: 1 });
    const error = await refusal(gate.acquire('a'));
    expect(isBulkheadError(error, 'concurrency_limit')).toBe(true);
    expect(errorRow('concurrency_limit').class).toBe('rate_limit');
    expect(isBulkheadError(error) && error.retryAfterMs).toBe(10_000);
    first();
    await waiting;
    expect(gate.load('a')).toEqual({ inFlight: 2, queued: 0 });
  });

  it('serves the queue in order and frees the lane when the last call is answered', async () => {
    const gate = new ConcurrencyGate({ maxInFlight: 1, maxQueued: 2, maxWaitMs: 10_000 });
    const order: string[] = [];
    const held = await gate.acquire('a');
    const second = gate.acquire('a').then((release) => (order.push('second'), release));
    const third = gate.acquire('a').then((release) => (order.push('third'), release));
    held();
    held();
    (await second)();
    (await third)();
    expect(order).toEqual(['second', 'third']);
    expect(gate.load('a')).toEqual({ inFlight: 0, queued: 0 });
  });

  it('refuses a waiting call after maxWaitMs and takes it out of the queue', async () => {
    const gate = new ConcurrencyGate({ maxInFlight: 1, maxQueued: 4, maxWaitMs: 20 });
    const held = await gate.acquire('a');
    const error = await refusal(gate.acquire('a'));
    expect(isBulkheadError(error, 'concurrency_limit')).toBe(true);
    expect(gate.load('a')).toEqual({ inFlight: 1, queued: 0 });
    held();
    expect(gate.load('a')).toEqual({ inFlight: 0, queued: 0 });
  });

  it('takes a free slot without waiting, and none when the tenant has no slot free', async () => {
    const gate = new ConcurrencyGate({ maxInFlight: 1, maxQueued: 2, maxWaitMs: 10_000 });
    const first = gate.tryAcquire('a');
    expect(first).toBeDefined();
    expect(gate.tryAcquire('a')).toBeUndefined();
    expect(gate.load('a')).toEqual({ inFlight: 1, queued: 0 });
    // A call already waiting keeps its place: the slot passes to it, not to a later tryAcquire.
    const waiting = gate.acquire('a');
    first!();
    expect(gate.tryAcquire('a')).toBeUndefined();
    (await waiting)();
    expect(gate.load('a')).toEqual({ inFlight: 0, queued: 0 });
  });

  it("never makes one tenant's calls wait for another's", async () => {
    const gate = new ConcurrencyGate({ maxInFlight: 1, maxQueued: 0, maxWaitMs: 10_000 });
    await gate.acquire('a');
    expect(isBulkheadError(await refusal(gate.acquire('a')), 'concurrency_limit')).toBe(true);
    const other = await gate.acquire('b');
    expect(gate.load('b')).toEqual({ inFlight: 1, queued: 0 });
    other();
  });
});
