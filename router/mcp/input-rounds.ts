// A runtime that needs the client's input in the middle of a request (a pack asking for an
// elicitation or a sampling) answers with a 2026-07-28 `input_required` result. How it reaches the
// client depends on the client's era:
// - 2026-07-28: the result goes to the client as it is, its `requestState` sealed by the router
//   (request-state.ts); the client answers with a retried request, which the router opens.
// - 2025: the router asks the client itself, on the call's own stream (client-requests.ts), then
//   retries the runtime with the answers, round after round, up to a bound.
// Either way the client is asked only what it declared it answers: a 2025 client in its
// `initialize` (kept with the session), a 2026-07-28 client in each request's own capabilities
// (its retried request too, which declares them again: the specification has a server infer none
// from an earlier request).
import {
  CLIENT_CAPABILITIES_META_KEY,
  type InputRequiredResult,
  type Result,
  type Server,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { UNANSWERED } from '../../kernel/wire/input-answers.ts';
import { isInputRequired } from '../dispatch/call-relay.ts';
import type { ClientRequests } from './client-requests.ts';
import { missingCapabilityErrorFor } from './json-rpc.ts';
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
   * The questions its client declared it answers (declaredQuestions): a 2025 session's, from its
   * `initialize` (kept with the session: sessions.ts); a 2026-07-28 request's, from its own
   * capabilities (askedBy). Undefined: not known (a 2025 session opened before they were kept),
   * and not checked.
   */
  asks?: readonly string[] | undefined;
}

/**
 * Each question the router carries, by what a client declares to answer it: a capability and, for
 * a mode or feature the capability declares apart, its member. Form-mode elicitation (or no mode)
 * needs `elicitation.form`, which a bare `elicitation: {}` declares (its meaning before modes);
 * URL mode needs `elicitation.url`; sampling with tools needs `sampling.tools`. The SDK's table
 * (its `requiredClientCapabilitiesForInputRequest`, not exported) reads them the same way.
 */
const DECLARED_BY: Readonly<Record<string, readonly [string, string?]>> = {
  'elicitation/create': ['elicitation', 'form'],
  'elicitation/create:url': ['elicitation', 'url'],
  'sampling/createMessage': ['sampling'],
  'sampling/createMessage:tools': ['sampling', 'tools'],
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object';

/** A runtime's question as DECLARED_BY names it: its method, and its mode or feature. */
function questionOf(request: unknown): string {
  const { method, params } = (request ?? {}) as { method?: unknown; params?: Record<string, unknown> };
  if (method === 'elicitation/create' && params?.mode === 'url') return 'elicitation/create:url';
  if (
    method === 'sampling/createMessage' &&
    (params?.tools !== undefined || params?.toolChoice !== undefined)
  )
    return 'sampling/createMessage:tools';
  return String(method);
}

/** A question as a refusal names it. */
const described = (question: string): string =>
  question.replace(/:url$/, ' in URL mode').replace(/:tools$/, ' with tools');

/** The questions a client answers, by the capabilities it declared (either era's shape). */
export function declaredQuestions(capabilities: unknown): string[] {
  const declares = ([name, member]: readonly [string, string?]): boolean => {
    const value = isObject(capabilities) ? capabilities[name] : undefined;
    if (!isObject(value)) return false;
    if (member === 'form' && value.form === undefined && value.url === undefined) return true;
    return member === undefined || isObject(value[member]);
  };
  return Object.keys(DECLARED_BY).filter((question) => declares(DECLARED_BY[question]!));
}

/**
 * The client of one request: a 2025 session's as the session keeps it; a 2026-07-28 request's by
 * the capabilities that request declares (`_meta` `io.modelcontextprotocol/clientCapabilities`,
 * which the SDK requires of it), none when it declares none.
 */
export function askedBy(client: AskedClient, ctx: ServerContext): AskedClient {
  if (client.era === 'legacy') return client;
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  return { era: 'modern', asks: declaredQuestions(envelope?.[CLIENT_CAPABILITIES_META_KEY]) };
}

export interface InputRoundsOptions {
  seal: RequestStateSeal;
  binding: StateBinding;
  /** The request's client (askedBy): what it declared it answers. */
  client: AskedClient;
  /** Present for a 2025 session that can be asked on the call's stream. */
  push?:
    | {
        questions: ClientRequests;
        server: Server;
        session: string;
        relatedRequestId: string | number;
        signal?: AbortSignal | undefined;
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
    const refused = refusal(answer, options.client);
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
 * Why the client is not asked the runtime's questions at all; undefined when it may be. A question
 * the client did not declare it answers is never sent (a 2025 client would answer "method not
 * found" once asked, and a client that declares nothing is asked nothing).
 */
function refusal(answer: InputRequiredResult, client: AskedClient): Error | undefined {
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
  const { asks } = client;
  if (!asks) return undefined;
  const undeclared = [...new Set(requests.map(questionOf))].filter((question) => !asks.includes(question));
  if (undeclared.length === 0) return undefined;
  const error = new BulkheadError(
    'input_request_refused',
    `the tool asked the client for ${undeclared.map(described).join(', ')}, which the client did not declare it answers`,
  );
  // A 2026-07-28 request gets the specification's answer to a request whose processing needs a
  // capability it did not declare: MissingRequiredClientCapability (-32021, which the SDK answers
  // with HTTP 400), naming what to declare. It is for the client, which alone can declare more; a
  // tool result would go to the model, which cannot. It fits the one error model: the router's
  // structured error rides in its data, as in every JSON-RPC refusal of the router (json-rpc.ts),
  // so the audit and the metrics count the code a 2025 session's tool error carries (2025 has no
  // such error: its client gets the tool result).
  return client.era === 'modern' ? missingCapabilityErrorFor(error, requiredCapabilities(undeclared)) : error;
}

/** The capabilities, in their `ClientCapabilities` shape, that declare the given questions. */
function requiredCapabilities(questions: readonly string[]): Record<string, Record<string, object>> {
  const required: Record<string, Record<string, object>> = {};
  for (const question of questions) {
    const [name, member] = DECLARED_BY[question]!;
    required[name] = { ...required[name], ...(member === undefined ? {} : { [member]: {} }) };
  }
  return required;
}

/** Sealed even when the runtime kept no state: the retry is then still bound to this caller. */
const NO_STATE = '';

function sealed(answer: InputRequiredResult, options: InputRoundsOptions): InputRequiredResult {
  return { ...answer, requestState: options.seal.seal(answer.requestState ?? NO_STATE, options.binding) };
}
