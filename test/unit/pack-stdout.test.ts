// What the runtime reads from a pack's stdout is bounded before it is parsed
// (runtime-image/src/packs/pack-stdout.ts): per interval, a budget of lines that are not answers to
// the runtime's requests is handed on; past it a line that cannot be an answer is dropped without
// a parse, a line that may be one is parsed and handed on only when it answers a request in flight,
// and otherwise reading pauses until the interval ends. Answers are never dropped. The transport's
// side (parse, the requests in flight) is a fake at the reader's own port.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mayBeAnswer, PackStdout, type LineOutcome } from '../../runtime-image/src/packs/pack-stdout.ts';

const BUDGET = { lines: 100, intervalMs: 1000 };
const note = (n: number, extra = {}) =>
  `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: `n${n}`, ...extra } })}\n`;
const answer = (id: number) => `${JSON.stringify({ jsonrpc: '2.0', id, result: { ok: id } })}\n`;

/** A reader fed by the test, over a fake transport that has asked the requests in `asked`. */
function reader(asked: number[], budget = BUDGET) {
  let now = 0;
  const inFlight = new Set(asked);
  const seen = { parsed: 0, handedOn: [] as unknown[], answers: [] as number[], reports: [] as unknown[] };
  const state = { paused: false, resumed: 0, killed: false };
  const handle = (line: string, withinBudget: boolean): LineOutcome => {
    seen.parsed += 1;
    const message = JSON.parse(line) as { id?: number; method?: string };
    if (message.method === undefined && message.id !== undefined && inFlight.delete(message.id)) {
      seen.answers.push(message.id);
      return 'answer';
    }
    if (!withinBudget) return 'refused';
    seen.handedOn.push(message);
    return 'other';
  };
  const stdout = new PackStdout({
    maxMessageBytes: 4096,
    budget,
    handle,
    pause: () => (state.paused = true),
    resume: () => {
      state.paused = false;
      state.resumed += 1;
    },
    tooLong: () => (state.killed = true),
    dropping: (report) => seen.reports.push(report),
    now: () => now,
  });
  return {
    stdout,
    seen,
    state,
    feed: (text: string) => stdout.read(Buffer.from(text)),
    advance: (ms: number) => {
      now += ms;
      vi.advanceTimersByTime(ms);
    },
  };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("a pack's stdout, read within a budget", () => {
  it('hands on the budget of notifications, drops the rest of a flood unparsed, and every answer', () => {
    const { feed, seen, state, stdout } = reader([7, 8]);
    const flood = Array.from({ length: 50_000 }, (_, n) => note(n));
    flood.splice(20_000, 0, answer(7));
    flood.push(answer(8));
    // In chunks cut anywhere, as a pipe delivers them.
    const text = flood.join('');
    for (let at = 0; at < text.length; at += 65_536) feed(text.slice(at, at + 65_536));
    expect(seen.handedOn).toHaveLength(BUDGET.lines);
    expect(seen.answers).toEqual([7, 8]);
    // Past the budget, only the two answers were parsed: the other 49,900 lines were not.
    expect(seen.parsed).toBe(BUDGET.lines + 2);
    expect(state.paused).toBe(false);
    stdout.stop();
    expect(seen.reports).toEqual([
      { dropped: 0, first: true },
      { dropped: 49_900, first: false },
    ]);
  });

  it('gives a new budget each interval and reports the drops once per interval', () => {
    const { feed, seen, advance, stdout } = reader([]);
    for (let second = 0; second < 3; second++) {
      feed(Array.from({ length: 150 }, (_, n) => note(n)).join(''));
      advance(BUDGET.intervalMs);
    }
    expect(seen.handedOn).toHaveLength(3 * BUDGET.lines);
    stdout.stop();
    expect(seen.reports).toEqual([
      { dropped: 0, first: true },
      { dropped: 50, first: true },
      { dropped: 50, first: true },
      { dropped: 50, first: false },
    ]);
  });

  it('parses lines dressed as answers past the budget, and past a message bound of them pauses reading', () => {
    const { feed, seen, state, advance } = reader([3]);
    const dressed = note(0, { id: 1 });
    // Refused past the budget before reading pauses: a message's bound (4096 bytes) of them.
    const refused = Math.ceil(4096 / (dressed.length - 1));
    // The answer comes after the dressed flood: it is held, never dropped.
    feed(dressed.repeat(2 * (BUDGET.lines + refused) + 10) + answer(3));
    expect(seen.handedOn).toHaveLength(BUDGET.lines);
    expect(seen.parsed).toBe(BUDGET.lines + refused);
    expect(state.paused).toBe(true);
    // Nothing more is read while paused.
    feed(note(999));
    expect(seen.parsed).toBe(BUDGET.lines + refused);
    advance(BUDGET.intervalMs);
    // The next interval takes its budget from the held lines, then pauses again.
    expect(seen.handedOn).toHaveLength(2 * BUDGET.lines);
    expect(state.paused).toBe(true);
    expect(seen.answers).toEqual([]);
    advance(BUDGET.intervalMs);
    expect(seen.answers).toEqual([3]);
    expect(seen.handedOn).toHaveLength(2 * BUDGET.lines + 11);
    expect(seen.handedOn.at(-1)).toMatchObject({ params: { data: 'n999' } });
    expect(state).toMatchObject({ paused: false, resumed: 1 });
  });

  it('kills a pack whose line passes the message bound, whole or still coming', () => {
    const whole = reader([]);
    whole.feed(`${'x'.repeat(5000)}\n`);
    expect(whole.state.killed).toBe(true);
    const coming = reader([]);
    coming.feed('y'.repeat(3000));
    coming.feed('y'.repeat(3000));
    expect(coming.state.killed).toBe(true);
  });
});

describe('a line that may be an answer', () => {
  it('is every JSON-RPC answer, whatever its members and their order, ids spelt with escapes too', () => {
    const id = fc.oneof(fc.integer(), fc.string());
    const member = fc.oneof(
      fc.record({ result: fc.jsonValue() }),
      fc.record({ error: fc.record({ code: fc.integer(), message: fc.string() }) }),
    );
    fc.assert(
      fc.property(id, member, fc.boolean(), (value, outcome, first) => {
        const message = first
          ? { id: value, jsonrpc: '2.0', ...outcome }
          : { jsonrpc: '2.0', ...outcome, id: value };
        expect(mayBeAnswer(Buffer.from(JSON.stringify(message)))).toBe(true);
      }),
    );
    expect(mayBeAnswer(Buffer.from('{"jsonrpc":"2.0","\\u0069d":1,"result":{}}'))).toBe(true);
    expect(mayBeAnswer(Buffer.from('{"jsonrpc":"2.0","i\\u0064":1,"result":{}}'))).toBe(true);
  });

  it('is not a notification without an "id" or an escape, and is one that carries either', () => {
    expect(mayBeAnswer(Buffer.from(note(1)))).toBe(false);
    expect(mayBeAnswer(Buffer.from('not json at all'))).toBe(false);
    expect(mayBeAnswer(Buffer.from(note(1, { id: 1 })))).toBe(true);
    expect(mayBeAnswer(Buffer.from(note(1, { text: '\u0001' })))).toBe(true);
  });
});
