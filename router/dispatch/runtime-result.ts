// What of a tenant runtime's result reaches a client: everything but what the router itself says
// about the call. A runtime's answer is the tenant's code's output, while these are the router's
// word: the caller's remaining budget (`io.bulkhead/budget`) and a tool version's deprecation
// (`io.bulkhead/deprecated`), which the pipeline adds only where they apply, so one left by the
// runtime would reach the agent as the router's (a budget spent, a version to move off); the
// server's identity (`io.modelcontextprotocol/serverInfo`), which the SDK stamps on a 2026-07-28
// result only where none is set, so every answer said it came from the tenant's runtime; and the
// cache hints (`ttlMs`, `cacheScope`), where `cacheScope: "public"` lets any cache serve the result
// to any caller of this one endpoint, another tenant's included (the SDK's defaults, 0 and private,
// go out instead). Pack-reported units (`io.bulkhead/units`) stay: the audit records them as the
// pack's report. And a tool result must be what the tool's approved output schema says (the
// caller's check, `ResultCheck`): a runtime we shipped refuses a pack's answer that breaks it, so
// one that reaches the router comes from a runtime that is not ours, and is a broken answer.
import type { Result } from '@modelcontextprotocol/client';
import { BUDGET_META_KEY } from '../../kernel/ratelimit/rate-limiter.ts';
import { ReadBoundError } from './bounded-fetch.ts';

/** Where the router's pipeline says that a pinned version is deprecated. */
export const DEPRECATION_META_KEY = 'io.bulkhead/deprecated';

const ROUTER_META_KEYS: readonly string[] = [
  BUDGET_META_KEY,
  DEPRECATION_META_KEY,
  'io.modelcontextprotocol/serverInfo',
];

/** `result` without the router's own `_meta` keys and the cache hints; itself when it has none. */
export function asRuntimeResult(result: Result): Result {
  const { ttlMs, cacheScope, ...rest } = result as Result & { ttlMs?: unknown; cacheScope?: unknown };
  const meta = rest._meta;
  const stamped = meta !== undefined && ROUTER_META_KEYS.some((key) => key in meta);
  if (ttlMs === undefined && cacheScope === undefined && !stamped) return result;
  if (!stamped) return rest;
  const kept = Object.fromEntries(Object.entries(meta).filter(([key]) => !ROUTER_META_KEYS.includes(key)));
  return { ...rest, _meta: kept };
}

/** Why a runtime's result may not reach the client, or undefined when it may. */
export type ResultCheck = (result: Result) => string | undefined;

/**
 * The runtime's result as it may reach a client (asRuntimeResult); one that `check` refuses is
 * thrown as a broken answer (kind `output_schema`), a security event like the other breaches.
 */
export function vettedResult(result: Result, check: ResultCheck | undefined): Result {
  const kept = asRuntimeResult(result);
  const problem = check?.(kept);
  if (problem !== undefined) {
    // Ajv lists every error it found: the log keeps the first few hundred characters.
    const what = problem.length > 500 ? `${problem.slice(0, 500)}…` : problem;
    throw new ReadBoundError(
      'output_schema',
      `the runtime's result breaks the tool's output schema: ${what}`,
    );
  }
  return kept;
}
