// The call timeout of one tool call to a pack, counted on the pack's own time. While a question the
// pack asked (an elicitation, a sampling) waits for the client's answer, the pack can do nothing but
// wait too, and a person may take minutes to answer: that wait has its own bound
// (pack-exchanges.ts), so the clock stops for it. Run out, the clock means the pack hung with no
// question outstanding, and the caller kills it. The SDK's own request timeout cannot stop: it
// runs from the request's start and would kill a pack whose question is still being answered
// (every other call to that pack with it, and a crash counted towards its circuit).
import { SdkError, SdkErrorCode } from '@modelcontextprotocol/client';

export class PackCallClock {
  private readonly controller = new AbortController();
  private left: number;
  private since = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Questions waiting for their answers; the clock runs only while there is none. */
  private waiting = 0;

  constructor(budgetMs: number) {
    this.left = budgetMs;
    this.run();
  }

  /** Aborted when the pack's time has run out. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get expired(): boolean {
    return this.controller.signal.aborted;
  }

  /** Runs `wait` (the pack's question to the client) with the clock stopped. */
  async whileWaiting<T>(wait: () => Promise<T>): Promise<T> {
    if (this.waiting++ === 0 && !this.expired) {
      clearTimeout(this.timer);
      this.left -= Date.now() - this.since;
    }
    try {
      return await wait();
    } finally {
      if (--this.waiting === 0 && !this.expired && this.timer !== undefined) this.run();
    }
  }

  /** The call is over: nothing fires after it. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private run(): void {
    this.since = Date.now();
    this.timer = setTimeout(
      () => this.controller.abort(new SdkError(SdkErrorCode.RequestTimeout, 'the pack ran out of time')),
      Math.max(0, this.left),
    );
  }
}
