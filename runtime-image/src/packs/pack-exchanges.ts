// A pack that asks its client something in the middle of a call (an elicitation, a sampling) gets
// its answer across requests: the runtime serves each request statelessly, so the call goes on in
// the background while the request that carried it is answered with a 2026-07-28 `input_required`
// result naming the question, and the retried request (carrying the answer and the `requestState`
// this module minted) picks the same call up again. The router seals that state for the client and
// opens it only for the same caller (router/mcp/request-state.ts); here an exchange is also bound to
// the caller and the tool, and given up when no answer comes in time: the pack's question fails and
// its call is cancelled, the pack left running (it did nothing wrong by waiting). While a question
// waits, the call timeout stops (pack-call-clock.ts).
import { randomUUID } from 'node:crypto';
import type { CallToolResult, InputRequiredResult, ServerContext } from '@modelcontextprotocol/server';
import { toolError } from '../../../kernel/tools/tool-errors.ts';
import { isUnanswered } from '../../../kernel/wire/input-answers.ts';

/** How long a question may wait for its answer before the call is given up. */
export const INPUT_WAIT_MS = 10 * 60_000;
/**
 * Beyond the call timeout (the pack's own time), how long one call may last in all, whatever its
 * questions: a pack that asks again and again, each answer coming just in time, still ends.
 */
export const CALL_INPUT_WAIT_MS = 30 * 60_000;
/** Exchanges waiting at once, per runtime: a client that never answers cannot pile them up. */
export const MAX_OPEN_EXCHANGES = 64;

interface Question {
  key: string;
  request: { method: string; params: Record<string, unknown> };
  answer(result: unknown): void;
  /** No answer will come (kernel/wire/input-answers.ts): the pack's request fails. */
  fail(error: Error): void;
}

export type PackAnswer = CallToolResult | InputRequiredResult;

/** Who may continue an exchange: the same caller, on the same tool. */
function ownerOf(ctx: ServerContext, tool: string): string {
  const context = ctx.http?.authInfo?.extra?.callContext as { user?: unknown; agent?: unknown } | undefined;
  return JSON.stringify([context?.agent ?? null, context?.user ?? null, tool]);
}

export class InputExchange {
  readonly id = randomUUID();
  /** Cancels the pack's call: the round's caller went away, or nobody answered in time. */
  readonly abort = new AbortController();
  private current: ServerContext;
  private question: Question | undefined;
  private asked: (() => void) | undefined;
  private result: Promise<CallToolResult> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly owner: string;
  private readonly exchanges: InputExchanges;
  /** The method of the question that went unanswered for the whole wait, when one did. */
  unanswered: string | undefined;

  constructor(exchanges: InputExchanges, ctx: ServerContext, tool: string) {
    this.exchanges = exchanges;
    this.current = ctx;
    this.owner = ownerOf(ctx, tool);
  }

  /** The request the call is being served on now: notifications go to its stream. */
  get ctx(): ServerContext {
    return this.current;
  }

  run(work: () => Promise<CallToolResult>): void {
    this.result = work();
  }

  /** The pack's question: answered when a retried request brings the client's answer. */
  ask(method: string, params: unknown): Promise<unknown> {
    if (this.question) return Promise.reject(new Error('the pack asked twice without waiting'));
    if (this.exchanges.full) return Promise.reject(new Error('too many questions are waiting for answers'));
    return new Promise((answer, fail) => {
      this.question = {
        key: randomUUID(),
        request: { method, params: (params ?? {}) as Record<string, unknown> },
        answer,
        fail,
      };
      this.asked?.();
    });
  }

  /** Serves one request: the call's result, or its next question. */
  async round(ctx: ServerContext, connection: AbortSignal): Promise<PackAnswer> {
    this.current = ctx;
    clearTimeout(this.timer);
    const cancel = (): void => this.abort.abort();
    const signals = [ctx.mcpReq.signal, connection];
    for (const signal of signals) signal.addEventListener('abort', cancel, { once: true });
    try {
      const questioned = new Promise<'asked'>((resolve) => {
        this.asked = () => resolve('asked');
        if (this.question) resolve('asked');
      });
      const outcome = await Promise.race([this.result!, questioned]);
      if (outcome !== 'asked') {
        this.exchanges.close(this);
        return outcome;
      }
      const { key, request } = this.question!;
      this.exchanges.keep(this);
      this.timer = setTimeout(() => this.expire(), this.exchanges.waitMs).unref();
      return {
        resultType: 'input_required',
        inputRequests: { [key]: request } as never,
        requestState: this.id,
      };
    } finally {
      for (const signal of signals) signal.removeEventListener('abort', cancel);
      this.asked = undefined;
    }
  }

  /**
   * Nobody answered in time: the call is cancelled (the pack is told) and the question fails, so
   * the pack's request to the client ends too rather than waiting for ever.
   */
  private expire(): void {
    this.exchanges.close(this);
    const question = this.question;
    this.question = undefined;
    this.unanswered = question?.request.method;
    this.abort.abort();
    question?.fail(new Error(`${question.request.method}: no answer within ${this.exchanges.waitMs} ms`));
  }

  /** A retried request's answers: the open question gets its own, if the request brought it. */
  answer(ctx: ServerContext, tool: string, responses: Record<string, unknown> | undefined): boolean {
    if (ownerOf(ctx, tool) !== this.owner) return false;
    const question = this.question;
    if (question && responses && question.key in responses) {
      this.question = undefined;
      const response = responses[question.key];
      if (isUnanswered(response))
        question.fail(
          new Error(`${question.request.method}: the client could not be asked; no answer will come`),
        );
      else question.answer(response);
    }
    return true;
  }
}

/** The open exchanges of this runtime, by the state their questions named. */
export class InputExchanges {
  private readonly open = new Map<string, InputExchange>();
  /** How long a question may wait for its answer (INPUT_WAIT_MS; shorter in tests). */
  readonly waitMs: number;

  constructor(options: { waitMs?: number } = {}) {
    this.waitMs = options.waitMs ?? INPUT_WAIT_MS;
  }

  start(ctx: ServerContext, tool: string): InputExchange {
    return new InputExchange(this, ctx, tool);
  }

  keep(exchange: InputExchange): void {
    this.open.set(exchange.id, exchange);
  }

  close(exchange: InputExchange): void {
    this.open.delete(exchange.id);
  }

  /** Continues the exchange a retried request names, or a tool error when it is not this caller's. */
  async resume(
    state: string,
    tool: string,
    ctx: ServerContext,
    connection: AbortSignal,
  ): Promise<PackAnswer> {
    const exchange = this.open.get(state);
    if (!exchange?.answer(ctx, tool, ctx.mcpReq.inputResponses)) {
      return toolError(
        'request_state_invalid',
        'this requestState names no open question of this caller (answered, expired or another caller’s)',
      );
    }
    return exchange.round(ctx, connection);
  }

  /** Whether another exchange may wait for an answer. */
  get full(): boolean {
    return this.open.size >= MAX_OPEN_EXCHANGES;
  }
}
