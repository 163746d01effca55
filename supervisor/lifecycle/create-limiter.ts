// A cap on concurrent container creates and starts: a burst of first calls queues here instead of
// asking the engine for dozens of containers at once (concurrent `docker run` slows down by an
// order of magnitude past a handful). It counts what it admits, so tests and metrics can show that
// the cap held.
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';

export class CreateLimiter {
  readonly limit: number;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** Highest number of creates ever in flight at once. */
  maxInFlight = 0;
  admitted = 0;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new BulkheadError('invalid_config', `create limit must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active += 1;
    this.admitted += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.active);
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // Hand the slot straight to the next waiter: the count never dips and overshoots.
      if (next) next();
      else this.active -= 1;
    }
  }
}
