// How often an action the console refuses reaches the tenant's audit trail. Every refusal is
// answered (role_required), but an auditor, who is signed in and has a CSRF token like anyone, could
// otherwise append `deny` entries to any tenant's trail as fast as they can send POSTs, growing the
// trail, its sealed segments and every later verification without limit, and burying other entries.
// The bound is kept in Redis, so it holds across every console process of the installation: with
// it in each process's memory, an auditor whose POSTs a load balancer spread over N consoles was on
// record N times a minute.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { refusedActionKey } from '../kernel/redis/keys.ts';

/** One `deny` per actor, tenant and action per minute is on record; the attempts between are not. */
export const REFUSED_ACTION_INTERVAL_MS = 60_000;

export interface RefusedAction {
  actor: string;
  tenant: string;
  action: string;
}

export class RefusedActionBound {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #intervalMs: number;

  constructor(options: { redis: Redis; prefix: string; intervalMs?: number }) {
    this.#redis = options.redis;
    this.#prefix = options.prefix;
    this.#intervalMs = options.intervalMs ?? REFUSED_ACTION_INTERVAL_MS;
  }

  /** Where this refusal's mark is kept: hashed, as the actor is whatever the IdP named them. */
  key(refusal: RefusedAction): string {
    const digest = createHash('sha256')
      .update(JSON.stringify([refusal.actor, refusal.tenant, refusal.action]))
      .digest('hex');
    return refusedActionKey(this.#prefix, digest);
  }

  /**
   * Whether this refusal is to be recorded: the first of its actor, tenant and action in the
   * interval, decided in one SET NX by whichever console asks first; the mark expires with the
   * interval (Redis's clock, the same for every console).
   */
  async admit(refusal: RefusedAction): Promise<boolean> {
    return (await this.#redis.set(this.key(refusal), '1', 'PX', this.#intervalMs, 'NX')) === 'OK';
  }
}
