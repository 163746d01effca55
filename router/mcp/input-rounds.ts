// A runtime that needs the client's input in the middle of a request (a pack asking for an
// elicitation or a sampling) answers with a 2026-07-28 `input_required` result. How it reaches the
// client depends on the client's era:
// - 2026-07-28: the result goes to the client as it is, its `requestState` sealed by the router
//   (request-state.ts); the client answers with a retried request, which the router opens.
// - 2025: the router asks the client itself, on the call's own stream (client-requests.ts), then
//   retries the runtime with the answers, round after round, up to a bound.
import type { InputRequiredResult, Result, Server } from '@modelcontextprotocol/server';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { UNANSWERED } from '../../kernel/wire/input-answers.ts';
import { isInputRequired } from '../dispatch/call-relay.ts';
import type { ClientRequests } from './client-requests.ts';
import type { RequestStateSeal, StateBinding } from './request-state.ts';

/** Rounds of questions one request may take before the router gives up on it. */
export const MAX_INPUT_ROUNDS = 8;
/**
 * The questions the router carries to a client: those it declares to runtimes
 * (router/dispatch/runtime-request.ts), the only ones a runtime relays from its packs
 * (runtime-image/src/packs/pack-host.ts). A `roots/list` would hand the tenant's code the paths of
 * the user's machine, which nothing in Bulkhead asks for.
 */
const CARRIED_METHODS: ReadonlySet<string> = new Set(['elicitation/create', 'sampling/createMessage']);
/**
 * Questions in one answer: as many as a runtime lets wait at once (`MAX_OPEN_EXCHANGES`,
 * runtime-image/src/packs/pack-exchanges.ts). A 2025 client is asked them one after another.
 */
export const MAX_INPUT_REQUESTS = 64;
/** How long a 2025 client has to answer one question (a person may be typing). */
export const CLIENT_ANSWER_TIMEOUT_MS = 5 * 60_000;

/** The client of a request, as far as its questions go. */
export interface AskedClient {
  era: 'legacy' | 'modern';
  /**
   * A 2025 session's: the questions its client declared it answers (`initialize` capabilities,
   * kept with the session: sessions.ts). Undefined: not known (a session opened before they were
   * kept), and not checked.
   */
  asks?: readonly string[] | undefined;
}

/** The methods a 2025 client answers, by the capabilities its `initialize` declared. */
export function declaredQuestions(capabilities: unknown): string[] {
  const declared = (name: string): boolean => {
    const value = (capabilities as Record<string, unknown> | null | undefined)?.[name];
    return value !== null && typeof value === 'object';
  };
  return [
    ...(declared('elicitation') ? ['elicitation/create'] : []),
    ...(declared('sampling') ? ['sampling/createMessage'] : []),
  ];
}

export interface InputRoundsOptions {
  seal: RequestStateSeal;
  binding: StateBinding;
  /** Present for a 2025 session that can be asked on the call's stream. */
  push?:
    | {
        questions: ClientRequests;
        server: Server;
        session: string;
        relatedRequestId: string | number;
        signal?: AbortSignal | undefined;
        /** What the client declared it answers (AskedClient.asks). */
        asks?: readonly string[] | undefined;
      }
    | undefined;
  /** Runs the request again with the client's answers and the runtime's own state. */
  retry(inputResponses: Record<string, unknown>, requestState: string | undefined): Promise<Result>;
}

/** The runtime's state of a retried 2026-07-28 request, opened; undefined when there is none. */
export function openedState(
  seal: RequestStateSeal,
  binding: StateBinding,
  sealed: unknown,
): string | undefined {
  if (sealed === undefined) return undefined;
  if (typeof sealed !== 'string')
    throw new BulkheadError('request_state_invalid', 'requestState refused: not a string');
  const inner = seal.open(sealed, binding);
  return inner === NO_STATE ? undefined : inner;
}

/** What the client gets for the runtime's answer: the final result, or sealed questions. */
export async function answerInputRounds(first: Result, options: InputRoundsOptions): Promise<Result> {
  let answer = first;
  for (let round = 0; isInputRequired(answer); round += 1) {
    const refused = refusal(answer, options.push?.asks);
    if (refused) {
      // Nothing is asked; the pack's questions, if it asked any, fail now. Best effort.
      const keys = Object.keys(answer.inputRequests ?? {}).slice(0, MAX_INPUT_REQUESTS);
      const unanswered = Object.fromEntries(keys.map((key) => [key, UNANSWERED]));
      await options.retry(unanswered, answer.requestState).catch(() => undefined);
      throw refused;
    }
    const { push } = options;
    if (!push) return sealed(answer, options);
    if (round >= MAX_INPUT_ROUNDS) {
      throw new BulkheadError(
        'input_rounds_exceeded',
        `the tool asked for input more than ${MAX_INPUT_ROUNDS} times`,
      );
    }
    const responses: Record<string, unknown> = {};
    const questions = Object.entries(answer.inputRequests ?? {});
    for (const [at, [key, request]] of questions.entries()) {
      try {
        responses[key] = await push.questions.ask({
          server: push.server,
          session: push.session,
          relatedRequestId: push.relatedRequestId,
          request: request,
          timeoutMs: CLIENT_ANSWER_TIMEOUT_MS,
          signal: push.signal,
        });
      } catch (error) {
        // The pack waits on these questions: tell it no answer will come, so its call ends now
        // rather than when the runtime stops waiting. Best effort; the caller gets this error.
        for (const [rest] of questions.slice(at)) responses[rest] = UNANSWERED;
        await options.retry(responses, answer.requestState).catch(() => undefined);
        throw error;
      }
    }
    answer = await options.retry(responses, answer.requestState);
  }
  return answer;
}

/**
 * Why the client is not asked the runtime's questions at all; undefined when it may be. `asks`: a
 * 2025 client's declared questions; one it did not declare is never sent (the client would answer
 * "method not found" once asked, and a client that declares nothing is asked nothing).
 */
function refusal(
  answer: InputRequiredResult,
  asks: readonly string[] | undefined,
): BulkheadError | undefined {
  const requests = Object.values(answer.inputRequests ?? {});
  if (requests.length > MAX_INPUT_REQUESTS)
    return new BulkheadError(
      'input_request_refused',
      `the tool asked ${requests.length} questions at once, more than ${MAX_INPUT_REQUESTS}`,
    );
  const other = requests.find((request) => !CARRIED_METHODS.has(String(request?.method)));
  if (other !== undefined)
    return new BulkheadError(
      'input_request_refused',
      `the tool asked the client for ${String(other?.method).slice(0, 64)}, which the router does not carry`,
    );
  const undeclared = asks && requests.find((request) => !asks.includes(String(request?.method)));
  if (!undeclared) return undefined;
  return new BulkheadError(
    'input_request_refused',
    `the tool asked the client for ${String(undeclared.method)}, which the client did not declare it answers`,
  );
}

/** Sealed even when the runtime kept no state: the retry is then still bound to this caller. */
const NO_STATE = '';

function sealed(answer: InputRequiredResult, options: InputRoundsOptions): InputRequiredResult {
  return { ...answer, requestState: options.seal.seal(answer.requestState ?? NO_STATE, options.binding) };
}
