// How often an action the console refuses reaches the tenant's audit trail. Every refusal is
// answered (role_required), but an auditor, who is signed in and has a CSRF token like anyone, could
// otherwise append `deny` entries to any tenant's trail as fast as they can send POSTs, growing the
// trail, its sealed segments and every later verification without limit, and burying other entries.

/** One `deny` per actor, tenant and action per minute is on record; the attempts between are not. */
export const REFUSED_ACTION_INTERVAL_MS = 60_000;

export class RefusedActionBound {
  /** When each (actor, tenant, action) was last recorded, oldest first. */
  readonly #recorded = new Map<string, number>();
  readonly #intervalMs: number;
  readonly #now: () => number;

  constructor(options: { intervalMs?: number; now?: () => number } = {}) {
    this.#intervalMs = options.intervalMs ?? REFUSED_ACTION_INTERVAL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Whether this refusal is to be recorded: the first of its actor, tenant and action in the interval. */
  admit(refusal: { actor: string; tenant: string; action: string }): boolean {
    const now = this.#now();
    // Entries are kept oldest first, so those past the interval are at the front: the map holds at
    // most the refusals recorded within one interval.
    for (const [key, at] of this.#recorded) {
      if (now - at < this.#intervalMs) break;
      this.#recorded.delete(key);
    }
    const key = JSON.stringify([refusal.actor, refusal.tenant, refusal.action]);
    if (this.#recorded.has(key)) return false;
    this.#recorded.set(key, now);
    return true;
  }
}
