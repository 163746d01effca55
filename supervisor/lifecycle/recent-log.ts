// What a periodic pass did, kept bounded: the last `capacity` entries for tests and operators, and a
// count of everything ever recorded. A supervisor runs for months; an array it only appends to
// would grow with every recycle or idle action for as long as it runs.
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';

export class RecentLog<T> {
  readonly capacity: number;
  private readonly items: T[] = [];
  private recorded = 0;

  constructor(capacity = 100) {
    if (!(capacity >= 1)) throw new BulkheadError('invalid_config', 'a RecentLog keeps at least one entry');
    this.capacity = capacity;
  }

  push(item: T): void {
    this.items.push(item);
    if (this.items.length > this.capacity) this.items.shift();
    this.recorded += 1;
  }

  /** The last entries, oldest first; at most `capacity`. */
  get entries(): readonly T[] {
    return this.items;
  }

  /** Every entry ever pushed, including those no longer kept. */
  get total(): number {
    return this.recorded;
  }
}
