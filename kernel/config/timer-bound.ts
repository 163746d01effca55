// Node's timers (setTimeout, setInterval, AbortSignal.timeout, undici's, and afterDeadline in
// kernel/redis/deadline.ts) wait at most 2^31 - 1 ms; a longer delay is replaced by 1 ms with only a
// TimeoutOverflowWarning, so a setting of 30 days would fire its timer at once, every time. Each
// setting a timer waits out declares its unit (`timer` in define-config.ts) and a longer value is
// refused at start, here, in one place.

/** The longest delay a Node timer waits: 2^31 - 1 ms, about 24.8 days. */
export const TIMER_MAX_MS = 2_147_483_647;

const MS_PER_UNIT = { ms: 1, seconds: 1000 } as const;

/** The unit of a setting some timer waits out, directly or after arithmetic. */
export type TimerUnit = keyof typeof MS_PER_UNIT;

/** The largest value of a setting in `unit` that a timer can wait out. */
export function timerMaxIn(unit: TimerUnit): number {
  return Math.floor(TIMER_MAX_MS / MS_PER_UNIT[unit]);
}

/** What an operator reads of the bound, e.g. "at most 2147483647 ms (about 24.8 days)". */
export function timerBoundText(unit: TimerUnit): string {
  return `at most ${timerMaxIn(unit)} ${unit === 'ms' ? 'ms' : 'seconds'} (about 24.8 days, the longest a timer can wait)`;
}

/** Why `value` is refused for a setting in `unit` that a timer waits out; undefined when it fits. */
export function timerOverflow(value: unknown, unit: TimerUnit): string | undefined {
  if (typeof value !== 'number' || value <= timerMaxIn(unit)) return undefined;
  return `${value} is too long: ${timerBoundText(unit)}; a longer one would fire at once`;
}
