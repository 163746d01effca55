// A tenant call's slot at its tenant's concurrency gate (kernel/process/concurrency-gate.ts). It is
// taken before the call's idempotency claim, so a call waiting or refused at the gate holds no claim
// and spends none of its key's retries; a write that then finds its key held by another call gives
// the slot back while it waits for that call's result (it reaches no container), and takes one again
// should the key come free for it to run (router/pipeline/idempotency.ts, CallSlot).
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

/** The slot one call holds, given back when it waits for another call of its key or ends. */
export class HeldSlot implements CallSlot {
  #release: Release | undefined;
  readonly #take: () => Promise<SlotTaking>;

  /** `release`: the slot held now; `take`: how to take one again. */
  constructor(release: Release | undefined, take: () => Promise<SlotTaking>) {
    this.#release = release;
    this.#take = take;
  }

  leave(): void {
    this.#release?.();
    this.#release = undefined;
  }

  async retake(): Promise<ToolAnswer | undefined> {
    const taken = await this.#take();
    if ('refused' in taken) return taken.refused;
    this.#release = taken.release;
    return undefined;
  }
}
