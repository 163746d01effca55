// Which era serves a request: the SDK's `isLegacyRequest` (its `createMcpHandler` documents it as
// the way to route 2025-era traffic to a handler of one's own), skipped for the request nearly every
// 2026-07-28 client sends. The SDK's modern handler classifies each request again anyway; routing
// it here took a second zod classification per call (about 6 µs in a loop, 2.6 % of the router's
// CPU in place at 50 connections: docs/performance-router.md).
import { isLegacyRequest, PROTOCOL_VERSION_META_KEY } from '@modelcontextprotocol/server';

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * A POSTed JSON object other than an `initialize` whose `params._meta` carries the
 * protocol-version claim is never legacy: the SDK's `classifyInboundRequest` classifies it modern
 * or refuses it (its response schemas are strict, so a body with `params` is no response), and its
 * refusals come from the modern handler. Whether a request that claims so is well formed is still
 * the SDK's to say. `test/unit/protocol-era.test.ts` holds this to `isLegacyRequest` over generated
 * requests of both eras, responses among them.
 */
export function claimsModernEra(body: unknown): boolean {
  if (!isObject(body) || body.method === 'initialize') return false;
  const params = body.params;
  return isObject(params) && isObject(params._meta) && PROTOCOL_VERSION_META_KEY in params._meta;
}

/** Whether the 2025-era handler serves this request (`body`: its JSON, parsed once). */
export async function servedAsLegacy(
  request: Request,
  body: unknown,
  maxBodyBytes: number,
): Promise<boolean> {
  if (request.method === 'POST' && claimsModernEra(body)) return false;
  return isLegacyRequest(request, body, { maxRequestBodySize: maxBodyBytes });
}
