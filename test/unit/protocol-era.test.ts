// The router's shortcut past the SDK's era classification (router/mcp/protocol-era.ts) answers as
// the SDK's own `isLegacyRequest` does, for generated requests of both eras, well and badly formed:
// a request it calls modern is one the SDK would never serve as legacy.
import { isLegacyRequest, PROTOCOL_VERSION_META_KEY } from '@modelcontextprotocol/server';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { claimsModernEra, servedAsLegacy } from '../../router/mcp/protocol-era.ts';

const MAX_BODY = 1_000_000;
const absent = fc.constant(undefined);
/** Mostly `value`, sometimes absent (JSON drops an undefined key), or the other way round. */
const often = <T>(value: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: value, weight: 4 }, { arbitrary: absent, weight: 1 });
const rarely = <T>(value: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: absent, weight: 6 }, { arbitrary: value, weight: 1 });
const version = fc.constantFrom('2026-07-28', '2025-06-18', '2025-03-26', 'garbage', ' 2026-07-28');
const method = fc.constantFrom(
  'tools/call',
  'initialize',
  'notifications/initialized',
  'ping',
  'server/discover',
);
const meta = fc.oneof(
  { arbitrary: fc.constantFrom(undefined, null, []), weight: 1 },
  {
    arbitrary: fc.record({
      claim: fc.oneof(absent, fc.oneof(version, fc.constant(5), fc.constant(null))),
      clientInfo: often(fc.constant({ name: 'c', version: '1' })),
      clientCapabilities: often(fc.constant({})),
    }),
    weight: 4,
  },
);
const params = fc.oneof(
  { arbitrary: fc.constantFrom(undefined, null, []), weight: 1 },
  {
    arbitrary: fc.record({
      name: often(fc.constant('whoami')),
      arguments: often(fc.constant({})),
      protocolVersion: rarely(version),
      _meta: meta,
    }),
    weight: 4,
  },
);
const body = fc.record({
  jsonrpc: often(fc.constantFrom('2.0', '2.0', '1.0', 2)),
  id: often(fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.constant(null), fc.constant({}))),
  method: often(fc.oneof(method, fc.constant(''), fc.constant(5))),
  params,
  result: rarely(fc.constantFrom({}, 5)),
  error: rarely(fc.constant({ code: -32600, message: 'x' })),
});
const headers = fc
  .record({
    'mcp-protocol-version': rarely(version),
    'mcp-method': rarely(fc.oneof(method, fc.constant('other'))),
    'mcp-name': rarely(fc.constant('whoami')),
  })
  .map(
    (all) =>
      Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as Record<string, string>,
  );

/** The claim's `_meta` key under its real name (the generator names it `claim`). */
function wire(generated: Record<string, unknown>): Record<string, unknown> {
  const p = generated.params as { _meta?: Record<string, unknown> } | undefined;
  if (!p || typeof p !== 'object' || !p._meta || typeof p._meta !== 'object' || Array.isArray(p._meta))
    return generated;
  const { claim, ...rest } = p._meta;
  const _meta = claim !== undefined ? { ...rest, [PROTOCOL_VERSION_META_KEY]: claim } : rest;
  return { ...generated, params: { ...p, _meta } };
}

function post(json: unknown, extra: Record<string, string>): Request {
  return new Request('http://127.0.0.1/mcp', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...extra },
    body: JSON.stringify(json),
  });
}

describe('the protocol era of a request', () => {
  it('agrees with the SDK: a request it calls modern is never served as legacy', async () => {
    const seen = { shortcut: 0, legacy: 0 };
    await fc.assert(
      fc.asyncProperty(body, headers, async (generated, extra) => {
        const json = wire(generated);
        const parsed = JSON.parse(JSON.stringify(json)) as unknown;
        const sdk = await isLegacyRequest(post(json, extra), parsed, { maxRequestBodySize: MAX_BODY });
        if (claimsModernEra(parsed)) seen.shortcut++;
        if (sdk) seen.legacy++;
        expect(await servedAsLegacy(post(json, extra), parsed, MAX_BODY)).toBe(sdk);
      }),
      { numRuns: 3_000 },
    );
    // The generator reaches both the shortcut and legacy requests.
    expect(seen.shortcut).toBeGreaterThan(300);
    expect(seen.legacy).toBeGreaterThan(40);
  });

  it('takes the shortcut for a 2026-07-28 call and not for a 2025 initialize', async () => {
    const modern = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'whoami', arguments: {}, _meta: { [PROTOCOL_VERSION_META_KEY]: '2026-07-28' } },
    };
    const initialize = {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } },
    };
    expect(claimsModernEra(modern)).toBe(true);
    expect(claimsModernEra(initialize)).toBe(false);
    expect(await servedAsLegacy(post(initialize, {}), initialize, MAX_BODY)).toBe(true);
  });
});
