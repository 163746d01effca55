// The relay budget measures a pack's notifications without serializing them
// (runtime-image/src/packs/pack-relay.ts, approxJsonLength): close to their JSON's length for the
// shapes packs send, and past the budget for nesting no notification needs. And it counts them: a
// burst of tiny ones, far under the byte budget, is relayed only up to a number, under the router's
// bound on the events of one answer.
import type { ServerNotification } from '@modelcontextprotocol/client';
import { describe, expect, it, vi } from 'vitest';
import { routerConfig } from '../../router/config.ts';
import { MAX_RELAYED_NOTIFICATIONS_PER_CALL } from '../../kernel/wire/answer-bounds.ts';
import {
  approxJsonLength,
  MAX_RELAYED_BYTES_PER_CALL,
  relayFor,
} from '../../runtime-image/src/packs/pack-relay.ts';

describe("a pack notification's measure for the relay budget", () => {
  it('is within a third of its JSON for log messages and progress, and exact to a few characters for a large text', () => {
    const shapes: unknown[] = [
      { level: 'error', data: 'c'.repeat(256 * 1024) },
      {
        level: 'info',
        logger: 'pack',
        data: { rows: Array.from({ length: 500 }, (_, i) => ({ id: i, name: `row ${i}` })) },
      },
      { progressToken: 'tok-1', progress: 40, total: 100, message: 'copying' },
    ];
    for (const shape of shapes) {
      const exact = JSON.stringify(shape).length;
      expect(Math.abs(approxJsonLength(shape) - exact) / exact).toBeLessThan(0.35);
    }
    const big = { level: 'error', data: 'c'.repeat(256 * 1024) };
    expect(Math.abs(approxJsonLength(big) - JSON.stringify(big).length)).toBeLessThan(64);
  });

  it('counts nesting deeper than any notification needs as past the budget', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 40; i++) deep = { next: deep };
    expect(approxJsonLength(deep)).toBeGreaterThan(MAX_RELAYED_BYTES_PER_CALL);
  });
});

/** The call's side of a relay: where its notifications go (the caller's stream), counted. */
function fakeCall() {
  const sent: ServerNotification[] = [];
  const exchange = {
    ctx: { mcpReq: { notify: (n: ServerNotification) => Promise.resolve(void sent.push(n)) } },
    ask: () => Promise.reject(new Error('no questions here')),
  } as unknown as Parameters<typeof relayFor>[0];
  const clock = { whileWaiting: <T>(wait: () => Promise<T>) => wait() };
  const log = { warn: vi.fn() };
  const relay = relayFor(exchange, clock, log as unknown as Parameters<typeof relayFor>[2], undefined);
  return { relay, sent, log };
}

const message = (data: string): ServerNotification => ({
  method: 'notifications/message',
  params: { level: 'info', data },
});

describe("a call's relay of a pack's notifications", () => {
  it(`relays at most ${MAX_RELAYED_NOTIFICATIONS_PER_CALL} however small, and logs how many it dropped`, async () => {
    const { relay, sent, log } = fakeCall();
    // 6,000 log messages of a few bytes: about 0.2 MiB, far under the byte budget.
    for (let i = 0; i < 6000; i++) relay.notify(message(`m${i}`));
    await relay.flushed();
    expect(sent).toHaveLength(MAX_RELAYED_NOTIFICATIONS_PER_CALL);
    expect(sent.at(-1)).toEqual(message(`m${MAX_RELAYED_NOTIFICATIONS_PER_CALL - 1}`));
    expect(log.warn.mock.calls.map(([fields]) => fields as unknown)).toEqual([
      expect.objectContaining({ method: 'notifications/message' }),
      { relayed: MAX_RELAYED_NOTIFICATIONS_PER_CALL, dropped: 6000 - MAX_RELAYED_NOTIFICATIONS_PER_CALL },
    ]);
  });

  it('relays up to its byte budget, then nothing more, small or not', async () => {
    const { relay, sent } = fakeCall();
    const quarter = 'c'.repeat(256 * 1024);
    for (let i = 0; i < 12; i++) relay.notify(message(quarter));
    relay.notify(message('small'));
    await relay.flushed();
    expect(sent).toHaveLength(3);
  });

  it("is below what the router's bound on an answer's events may be set to", () => {
    const bound = routerConfig.fields.runtimeMaxStreamMessages.schema;
    expect(bound.safeParse(String(MAX_RELAYED_NOTIFICATIONS_PER_CALL)).success).toBe(false);
    expect(bound.safeParse(String(MAX_RELAYED_NOTIFICATIONS_PER_CALL + 1)).success).toBe(true);
    expect(bound.parse(undefined)).toBeGreaterThan(MAX_RELAYED_NOTIFICATIONS_PER_CALL);
  });
});
