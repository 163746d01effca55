// What the runtime reads from a pack's stdout, bounded before anything is parsed. Every line a pack
// writes used to be decoded, JSON-parsed and handed to the MCP client, whose handling of one
// notification (schema checks, promises, the handler) leaves far more for the collector than the
// line: 6 MiB of small log messages during one call grew the runtime's process by up to 253 MiB
// (test/bench/pack-flood.ts), although the relay budgets (pack-relay.ts, unrelayed-log.ts) dropped
// all but a few hundred of them after that work. Here each pack gets a budget of lines per interval
// that are not answers to the runtime's own requests (notifications, the pack's requests, lines
// that are not JSON-RPC, answers to nothing asked). Past it, until the interval ends, a line that
// cannot be an answer is dropped without being decoded or parsed; a line that may be one is parsed
// (a parse alone leaves little: nothing keeps what it made), handed on if it answers a request in
// flight, and otherwise dropped; once such refused lines add up to a message's bound, reading pauses
// until the interval ends: the pipe fills and the pack's writes block (backpressure), the chunk
// already read is held, nothing more.
import { Buffer } from 'node:buffer';
import { MAX_RELAYED_NOTIFICATIONS_PER_CALL } from '../../../kernel/wire/answer-bounds.ts';

export interface LineBudget {
  /** Lines that are not answers to the runtime's requests, handed on per interval. */
  lines: number;
  intervalMs: number;
}

/**
 * What one call relays (MAX_RELAYED_NOTIFICATIONS_PER_CALL, 500) every ten seconds: a call's full
 * share at once, and a flood kept to 50 lines a second handed on. What the MCP client does with
 * each line handed on, not the parse, is what a flood costs, and a sustained one adds up: handed
 * 500 a second for a minute, the runtime's process grew by 115 MiB under a 192 MiB container's heap
 * limit (test/bench/pack-flood.ts, docs/pack-runtime.md).
 */
export const PACK_LINE_BUDGET: LineBudget = { lines: MAX_RELAYED_NOTIFICATIONS_PER_CALL, intervalMs: 10_000 };

const NEWLINE = 0x0a;
const ID_MEMBER = Buffer.from('"id"');
const UNICODE_ESCAPE = Buffer.from('\\u');

/**
 * Whether a line may be a JSON-RPC answer, without parsing it. An answer must have an `id` member,
 * and in JSON text a member named `id` is the four bytes `"id"`, unless its name is spelt with
 * `\u` escapes (no shorter escape stands for `i` or `d`): a line with neither is no answer (nor a
 * request), whatever else it holds, so no answer is ever dropped unparsed, whatever a pack writes.
 * The other way is open to a pack: a notification that carries `"id"` anywhere (a member of its
 * parameters, a string) or a `\u` escape cannot be told from an answer here, and is parsed; a
 * hostile pack that dresses its flood so gains nothing, since what it dressed is then dropped
 * unless it answers a request in flight, and past a bound of those reading pauses, which delays
 * that pack's own answers alone. The other way round is closed: a pack cannot make an answer look
 * like a notification, since without `"id"` (or an escape) it is no answer.
 */
export function mayBeAnswer(line: Buffer): boolean {
  return line.indexOf(ID_MEMBER) !== -1 || line.indexOf(UNICODE_ESCAPE) !== -1;
}

/** What the transport made of a line: an answer to a request in flight, anything else handed on, or refused. */
export type LineOutcome = 'answer' | 'other' | 'refused';

export interface PackStdoutOptions {
  /**
   * The largest line; also how much of the lines that may be answers is parsed and refused past
   * the budget in one interval before reading pauses.
   */
  maxMessageBytes: number;
  budget: LineBudget;
  /**
   * Parses `line` and hands it on: always when it answers a request in flight, otherwise only
   * `withinBudget` (else 'refused', and nothing of it is kept).
   */
  handle: (line: string, withinBudget: boolean) => LineOutcome;
  /** Stops and restarts the stream's reading (the pipe's backpressure). */
  pause: () => void;
  resume: () => void;
  /** A message past maxMessageBytes: the pack is killed. */
  tooLong: () => void;
  /**
   * At an interval's first line dropped, and at the end: the lines dropped since the last report
   * (before this one), so the log gets one warning per interval with drops.
   */
  dropping: (report: { dropped: number; first: boolean }) => void;
  now?: () => number;
}

export class PackStdout {
  private readonly options: PackStdoutOptions;
  private readonly now: () => number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private since = -Infinity;
  private spent = 0;
  /** This interval's bytes of lines parsed past the budget and refused. */
  private refused = 0;
  /** Dropped since the last report. */
  private dropped = 0;
  private warned = false;
  /** What was read and not yet handled while reading is paused: one chunk's rest, at most. */
  private held: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(options: PackStdoutOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  get paused(): boolean {
    return this.timer !== undefined;
  }

  /** One chunk of the pack's stdout. */
  read(chunk: Buffer): void {
    if (this.paused || this.stopped) {
      if (!this.stopped) this.held.push(chunk);
      return;
    }
    let start = 0;
    for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, start)) {
      let line = chunk.subarray(start, at);
      if (this.pending.length > 0) {
        line = Buffer.concat([...this.pending, line]);
        this.pending = [];
        this.pendingBytes = 0;
      }
      start = at + 1;
      this.line(line);
      if (this.stopped) return;
      if (this.paused) {
        if (start < chunk.length) this.held.push(chunk.subarray(start));
        return;
      }
    }
    const rest = chunk.subarray(start);
    this.pendingBytes += rest.length;
    if (this.pendingBytes > this.options.maxMessageBytes) return this.tooLong();
    if (rest.length > 0) this.pending.push(rest);
  }

  private line(line: Buffer): void {
    if (line.length === 0) return;
    if (line.length > this.options.maxMessageBytes) return this.tooLong();
    const { budget, handle } = this.options;
    const now = this.now();
    if (now - this.since >= budget.intervalMs) {
      this.since = now;
      this.spent = 0;
      this.refused = 0;
      this.warned = false;
    }
    if (this.spent < budget.lines) {
      if (handle(line.toString('utf8'), true) !== 'answer') this.spent += 1;
      return;
    }
    if (!mayBeAnswer(line)) return this.drop();
    if (handle(line.toString('utf8'), false) === 'answer') return;
    this.drop();
    // Dropped only once parsed: past a message's bound of those, this pack (dressing its lines as
    // answers, or chatty about ids) is read no further this interval rather than parsed at its pace.
    this.refused += line.length;
    if (this.refused >= this.options.maxMessageBytes) this.pauseUntil(this.since + budget.intervalMs - now);
  }

  private drop(): void {
    if (!this.warned) {
      this.warned = true;
      this.options.dropping({ dropped: this.dropped, first: true });
      this.dropped = 0;
    }
    this.dropped += 1;
  }

  private pauseUntil(ms: number): void {
    this.options.pause();
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        const held = this.held;
        this.held = [];
        for (const [i, chunk] of held.entries()) {
          this.read(chunk);
          if (this.stopped) return;
          // Paused again: the rest stays held, in order.
          if (this.paused) return void this.held.push(...held.slice(i + 1));
        }
        this.options.resume();
      },
      Math.max(0, ms),
    );
  }

  private tooLong(): void {
    this.pending = [];
    this.stop();
    this.options.tooLong();
  }

  /** The stream ended or the pack is gone: nothing more is read; the drops not reported yet are. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.held = [];
    if (this.dropped > 0) this.options.dropping({ dropped: this.dropped, first: false });
    this.dropped = 0;
  }
}
