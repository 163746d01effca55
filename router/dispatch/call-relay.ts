// What travels with one request from the client's side to the tenant runtime and back, besides its
// params: the client's cancellation (its own cancel, or a dropped connection), the notifications the
// runtime sends while it works (progress, log messages), which reach the client on the same
// request's stream, and the multi-round-trip input (2026-07-28 `inputResponses` and the runtime's
// `requestState`) of a retried call.
import {
  isInputRequiredResult,
  type CallToolResult,
  type InputRequiredResult,
  type Progress,
} from '@modelcontextprotocol/client';

/** A notification the runtime sent about the request in flight, to pass on to the client. */
export interface RelayedNotification {
  method: string;
  params?: Record<string, unknown>;
}

export interface CallRelay {
  /** Aborted when the client cancels or goes away: the runtime's request is cancelled too. */
  signal?: AbortSignal | undefined;
  /** Sends a notification to the client on the request's own stream. */
  notify?: ((notification: RelayedNotification) => Promise<void>) | undefined;
  /** The client asked for progress under this token; the runtime's progress is re-keyed to it. */
  progressToken?: string | number | undefined;
  /** A retried multi-round-trip request: the client's answers, and the runtime's own state. */
  inputResponses?: Record<string, unknown> | undefined;
  requestState?: string | undefined;
}

/** The methods the router forwards to a tenant runtime as they are. */
export const FORWARDED_METHODS = [
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'prompts/list',
  'prompts/get',
  'completion/complete',
] as const;
export type ForwardedMethod = (typeof FORWARDED_METHODS)[number];

/**
 * The longest progress `message` relayed: a line for a person to read ("3 of 10 pages"), where the
 * runtime's read bounds alone would let a few MiB through on every notification.
 */
export const MAX_PROGRESS_MESSAGE_LENGTH = 1_024;

/**
 * The fields of a runtime's progress (already the spec's shape) that reach the client: `progress`,
 * and `total` and `message` where given, nothing else the runtime put there (its `_meta`, fields of
 * its own). Undefined, so dropped, when its message is longer than MAX_PROGRESS_MESSAGE_LENGTH.
 */
export function checkedProgress(progress: Progress): Progress | undefined {
  const { progress: done, total, message } = progress;
  if (message !== undefined && message.length > MAX_PROGRESS_MESSAGE_LENGTH) return undefined;
  return {
    progress: done,
    ...(total === undefined ? {} : { total }),
    ...(message === undefined ? {} : { message }),
  };
}

/** The runtime's checked progress, as the notification the client asked for. */
export function progressNotification(token: string | number, progress: Progress): RelayedNotification {
  return { method: 'notifications/progress', params: { ...progress, progressToken: token } };
}

/** The params sent to the runtime: the client's, plus a retried round's input. */
export function paramsWithInput(params: Record<string, unknown>, relay: CallRelay): Record<string, unknown> {
  return {
    ...params,
    ...(relay.inputResponses ? { inputResponses: relay.inputResponses } : {}),
    ...(relay.requestState !== undefined ? { requestState: relay.requestState } : {}),
  };
}

/** What a tools/call answers: a result, or (2026-07-28) a request for the client's input first. */
export type ToolAnswer = CallToolResult | InputRequiredResult;

/** An answer that is not final: the client must answer its input requests and retry. */
export function isInputRequired(answer: unknown): answer is InputRequiredResult {
  return isInputRequiredResult(answer);
}
