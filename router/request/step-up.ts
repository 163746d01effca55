// Step-up authorization: a `tools/call` that the principal may otherwise make, but whose token lacks
// the tool's scope, is answered 403 with `WWW-Authenticate: Bearer error="insufficient_scope",
// scope="<needed>", resource_metadata=...` (MCP authorization spec, RFC 6750 section 3.1), so a
// client can re-authorize for that scope and retry. This is an HTTP answer, so it is given before
// the MCP handler (which can only answer JSON-RPC), from the decision the request context made.
//
// Every other denial passes through untouched: the MCP server answers it like an unknown tool, so
// nothing here reveals whether a tool exists to a principal that may not use it.
//
// Not the SDK's scope challenge (createScopeChallengeResponse through bearerAuthChallengeResponse):
// it puts error_description second and no `scope` in the body, and clients (and our tests) read
// `scope` right after `error` and in the body.
import { ERROR_CODES } from '../../kernel/errors/error-codes.ts';
import type { RequestContext } from './request-context.ts';

/** The 403 step-up answer for this request, or undefined when it needs none. */
export function stepUpResponse(context: RequestContext, resourceMetadataUrl: string): Response | undefined {
  const decision = context.call?.decision;
  if (!decision || decision.permit || decision.answer !== 'step_up') return undefined;
  const description = `the tool needs the scope "${decision.scope}"`;
  const challenge = [
    'Bearer error="insufficient_scope"',
    `scope="${decision.scope}"`,
    `resource_metadata="${resourceMetadataUrl}"`,
    `error_description="${description.replace(/"/g, "'")}"`,
  ].join(', ');
  return Response.json(
    { error: 'insufficient_scope', error_description: description, scope: decision.scope },
    { status: ERROR_CODES.insufficient_scope.http, headers: { 'WWW-Authenticate': challenge } },
  );
}
