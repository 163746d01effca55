// A tenant call's slot at its tenant's concurrency gate (kernel/process/concurrency-gate.ts). It is
// taken before the call's idempotency claim, so a call waiting or refused at the gate holds no claim
// and spends none of its key's retries; a write that then finds its key held by another call gives
// the slot back while it waits for that call's result (it reaches no container), waiting aside
// (within the gate's bound on such waits: each asks Redis for its key as it waits), and takes a slot
// again should the key come free for it to run (router/pipeline/idempotency.ts, CallSlot).
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { ConcurrencyGate, Release } from '../../kernel/process/concurrency-gate.ts';
import { toolErrorFor } from '../../kernel/tools/tool-errors.ts';
import type { ToolAnswer } from '../dispatch/call-relay.ts';
import type { CallSlot } from './idempotency.ts';

/** A slot taken (none without a gate), or the gate's refusal to answer instead. */
export type SlotTaking = { release: Release | undefined } | { refused: ToolAnswer };

/** Takes a slot for a call of `tenant`; `onRefused` counts a refusal. */
export async function takeSlot(
  gate: ConcurrencyGate | undefined,
  tenant: string,
  onRefused: () => void,
): Promise<SlotTaking> {
  try {
    return { release: await gate?.acquire(tenant) };
  } catch (error) {
    if (isBulkheadError(error, 'concurrency_limit')) {
      onRefused();
      return { refused: toolErrorFor(error) };
    }
    throw error;
  }
}

/** The slot one call holds, or its place waiting aside; handed back when the call ends. */
export class HeldSlot implements CallSlot {
  #release: Release | undefined;
  readonly #o: { gate: ConcurrencyGate | undefined; tenant: string; onRefused?: () => void };

  /**
   * `release`: the slot held now (none without a gate); `gate` and `tenant`: where to take one
   * again or wait aside; `onRefused` counts a refusal when taking one again (takeSlot).
   */
  constructor(options: {
    gate: ConcurrencyGate | undefined;
    tenant: string;
    release: Release | undefined;
    onRefused?: () => void;
  }) {
    this.#release = options.release;
    this.#o = options;
  }

  leave(): boolean {
    const { gate, tenant } = this.#o;
    // Without a gate there is no slot to hand back nor a bound on waiting: a place that holds none.
    const aside = gate ? gate.tryWaitAside(tenant) : () => undefined;
    if (!aside) return false;
    this.#release?.();
    this.#release = aside;
    return true;
  }

  async retake(): Promise<ToolAnswer | undefined> {
    this.end();
    const { gate, tenant, onRefused } = this.#o;
    const taken = await takeSlot(gate, tenant, onRefused ?? (() => undefined));
    if ('refused' in taken) return taken.refused;
    this.#release = taken.release;
    return undefined;
  }

  /** Hands back what the call holds, when it is answered. */
  end(): void {
    this.#release?.();
    this.#release = undefined;
  }
}
