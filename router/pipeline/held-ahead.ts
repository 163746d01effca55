// What a write's admission takes for it ahead of its run when its client is alone (the client
// connections: router/http/connection-activity.ts): a slot at the concurrency gate and its
// idempotency key's claim, the claim sent as the rate-limit take is, so that the two round trips
// overlap instead of following each other (docs/performance-router.md, "A write's claim sent with
// its take"). Nothing is taken for a call that would wait at the gate (a waiting call holds no
// claim, whose 15 s could run out while it waits), nor under load: a refused call's claim costs two
// more Redis commands (the claim and its release), which a client alone pays one call at a time but
// a retry storm would pay on every refusal. What is taken goes to the call's run, or back when the
// call is refused or never handled.
import {
  argumentsDigest,
  IDEMPOTENCY_KEY_FIELD,
  type ToolDefinition,
} from '../../kernel/tools/tool-definition.ts';
import type { ConcurrencyGate, Release } from '../../kernel/process/concurrency-gate.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { ClaimAhead, IdempotencyScope, IdempotencyStore } from './idempotency.ts';

/** A write's slot and claim taken ahead: handed to its run, or given back. */
export class HeldAhead {
  /** The slot at the gate (none without a gate). */
  readonly slot: Release | undefined;
  readonly claim: ClaimAhead;
  readonly #idempotency: IdempotencyStore;

  constructor(slot: Release | undefined, claim: ClaimAhead, idempotency: IdempotencyStore) {
    this.slot = slot;
    this.claim = claim;
    this.#idempotency = idempotency;
  }

  /** Gives back what was taken ahead for a call that will not run. */
  giveBack(): void {
    this.slot?.();
    this.#idempotency.abandon(this.claim);
  }
}

/** What a write's idempotency scope takes from its tenant's record. */
export type WritingTenant = Pick<TenantRecord, 'id' | 'createdAt'>;

/**
 * The scope of a write's idempotency key: tenant (its id and record's `createdAt`), tool, key and
 * the other arguments' digest.
 */
export function idempotencyScope(
  tenant: WritingTenant,
  tool: string,
  args: Record<string, unknown>,
): IdempotencyScope {
  return {
    tenant: tenant.id,
    tenantCreatedAt: tenant.createdAt,
    tool,
    key: args[IDEMPOTENCY_KEY_FIELD] as string,
    digest: argumentsDigest(args),
  };
}

/** Takes the slot and sends the claim of a tenant write whose client is alone; else nothing. */
export function holdAhead(options: {
  /** None: nothing is taken ahead (a tenant tool is permitted only with its record). */
  tenant: WritingTenant | undefined;
  tool: ToolDefinition;
  args: Record<string, unknown>;
  alone: boolean | undefined;
  gate: ConcurrencyGate | undefined;
  idempotency: IdempotencyStore;
}): HeldAhead | undefined {
  const { tenant, tool, gate, idempotency } = options;
  if (!tenant || !options.alone || tool.kind === 'shared' || !tool.writes) return undefined;
  const slot = gate?.tryAcquire(tenant.id);
  if (gate && !slot) return undefined;
  return new HeldAhead(
    slot,
    idempotency.claimAhead(idempotencyScope(tenant, tool.name, options.args)),
    idempotency,
  );
}
