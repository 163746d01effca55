// Which refusals for a spent budget reach the audit trail. A request refused with
// `rate_limit_exceeded` was charged to nothing (that is what the refusal means), yet each one
// appended a record to its tenant's trail: an agent looping past its budget (a tools/call, a
// relayed request, a refused call past its share) grew the trail, and the Redis every tenant
// shares, as fast as it could send, however small its budget. The refusal tells the caller how long
// to wait (`retry_after_ms`); a refusal of the same caller before that wait has passed is the same
// refusal asked again, and is not recorded again: the first is, and then one per wait at most, so
// what a loop past its budget adds to the trail is bounded by how fast its budgets refill. Only the
// router's own refusals (a runtime's answer naming the code is a call that ran, recorded as any).
// Each is still answered, counted (`bulkhead_rate_limit_refusals_total`), and accounted for in
// the trail: the next record of the caller's refusals carries how many were left out since the last
// one and which tools they named (`repeats`), and a caller that stops asking gets a record of its
// own for them (kind `refusals`) once its wait has passed (`sweep`, on the router's scheduler) or
// when the router closes. Per router process, in memory, like the verified-token cache: a caller
// whose requests spread over N routers leaves up to N records a wait. The callers remembered are
// bounded (the least recently refused are forgotten, what they left out written first).
import {
  MAX_REPEATED_TOOLS,
  recordedToolName,
  type AuditEvent,
  type Repeats,
} from '../../kernel/audit/audit-record.ts';
import { isBuiltHere } from '../../kernel/tools/tool-errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { RequestContext } from '../request/request-context.ts';

/** Callers remembered at most. */
const DEFAULT_MAX_CALLERS = 10_000;
/** How often the router writes what callers whose wait has passed left out (router/router.ts). */
export const REFUSAL_SWEEP_MS = 1_000;

/**
 * Who was refused: the principal and which tenant of its id (its record's `createdAt`, none without
 * a record). A tenant offboarded and onboarded again under the id is another customer: its callers
 * are not the earlier one's, and what the earlier one's left out is not written to its trail.
 */
type Caller = Pick<Principal, 'tenant' | 'user' | 'agent'> & { tenantCreatedAt?: string | undefined };

/** The caller of a request, as refusals are remembered by: its principal and its tenant's record. */
export function callerOf(context: Pick<RequestContext, 'principal' | 'tenant'>): Caller {
  return { ...context.principal, tenantCreatedAt: context.tenant?.createdAt };
}

interface Remembered {
  /** Until when its last recorded refusal told it to wait. */
  until: number;
  /** Who was refused last (the user of a caller can change between its requests). */
  caller: Caller;
  /** The refusals left out since its last recorded one, and the tools they named. */
  count: number;
  tools: Set<string>;
  others: number;
}

/** What a rate-limit refusal's record is: none (left out), or one carrying what was left out before. */
export type RefusalAudit = { recorded: false } | { recorded: true; repeats?: Repeats };

export class RepeatedRefusals {
  /** A caller (tenant and agent) to what is remembered of it, least recently refused first. */
  readonly #callers = new Map<string, Remembered>();
  readonly #max: number;
  readonly #now: () => number;
  readonly #write: (summary: AuditEvent, tenantCreatedAt: string | undefined) => Promise<void>;

  /**
   * `write` appends a summary record to the trail of the tenant of that `createdAt` only, and never
   * rejects (router/router.ts logs what it could not).
   */
  constructor(
    options: {
      maxCallers?: number;
      now?: () => number;
      write?: (summary: AuditEvent, tenantCreatedAt: string | undefined) => Promise<void>;
    } = {},
  ) {
    this.#max = options.maxCallers ?? DEFAULT_MAX_CALLERS;
    this.#now = options.now ?? Date.now;
    this.#write = options.write ?? (async () => {});
  }

  /**
   * Whether to record this rate-limit refusal of `caller` naming `tool`, told to wait
   * `retryAfterMs`: not while the wait its last recorded refusal gave it has not passed (it is
   * counted instead); when recorded, the refusals left out before it.
   */
  record(caller: Caller, retryAfterMs: number, tool: string): RefusalAudit {
    const key = JSON.stringify([caller.tenant, caller.tenantCreatedAt ?? null, caller.agent]);
    const now = this.#now();
    const known = this.#callers.get(key);
    if (known !== undefined && now < known.until) {
      // Now the most recently refused: a caller still looping is the last forgotten.
      this.#callers.delete(key);
      this.#callers.set(key, known);
      known.caller = caller;
      known.count += 1;
      const name = recordedToolName(tool);
      if (known.tools.has(name) || known.tools.size < MAX_REPEATED_TOOLS) known.tools.add(name);
      else known.others += 1;
      return { recorded: false };
    }
    this.#callers.delete(key);
    this.#callers.set(key, {
      until: now + Math.max(0, retryAfterMs),
      caller,
      count: 0,
      tools: new Set(),
      others: 0,
    });
    if (this.#callers.size > this.#max) {
      const [oldest, forgotten] = this.#callers.entries().next().value as [string, Remembered];
      this.#callers.delete(oldest);
      void this.#summarize(forgotten);
    }
    return known && known.count > 0 ? { recorded: true, repeats: repeatsOf(known) } : { recorded: true };
  }

  /** Writes what each caller whose wait has passed left out, and forgets those callers. */
  async sweep(): Promise<void> {
    const now = this.#now();
    const written: Promise<void>[] = [];
    for (const [key, known] of this.#callers) {
      if (now < known.until) continue;
      this.#callers.delete(key);
      written.push(this.#summarize(known));
    }
    await Promise.all(written);
  }

  /** Writes what every caller left out, its wait passed or not (the router closing), and forgets all. */
  async close(): Promise<void> {
    const all = [...this.#callers.values()];
    this.#callers.clear();
    await Promise.all(all.map((known) => this.#summarize(known)));
  }

  /** Callers remembered now. */
  get size(): number {
    return this.#callers.size;
  }

  async #summarize(known: Remembered): Promise<void> {
    if (known.count === 0) return;
    const { tenant, user, agent, tenantCreatedAt } = known.caller;
    const summary: AuditEvent = {
      tenant,
      user,
      agent,
      tool: 'rate_limit_exceeded',
      decision: 'deny',
      reason: 'rate_limit_exceeded',
      kind: 'refusals',
      repeats: repeatsOf(known),
    };
    await this.#write(summary, tenantCreatedAt);
  }
}

function repeatsOf(known: Remembered): Repeats {
  return { count: known.count, tools: [...known.tools], others: known.others };
}

/**
 * The audit of a request answered with the structured `error` (a tool error's, or a JSON-RPC
 * refusal's data; undefined when it succeeded) naming `tool`: a rate-limit refusal repeated within
 * its wait leaves no record; any other is recorded, a rate-limit refusal's with what was left out.
 */
export function refusalAudit(
  refusals: RepeatedRefusals | undefined,
  caller: Caller,
  error: unknown,
  tool: string,
): RefusalAudit {
  const { code, retry_after_ms: wait } = (error ?? {}) as { code?: unknown; retry_after_ms?: unknown };
  if (!refusals || code !== 'rate_limit_exceeded' || typeof wait !== 'number') return { recorded: true };
  // Only the router's own refusal: a tenant runtime's answer naming the code (any wait) is a call
  // that ran in its container, recorded like any other.
  if (!isBuiltHere(error)) return { recorded: true };
  return refusals.record(caller, wait, tool);
}
