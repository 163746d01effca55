// Before authentication, through the router's real app and verifier: a source address that sends
// too many refused tokens gets 429 with Retry-After and a JSON-RPC error for its next ones, which
// are not verified at all; a token the router verified before keeps being served from that address.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRoles, openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { AuthFloodGuard } from '../../router/auth/auth-flood-guard.ts';
import {
  agentClaims,
  keyHoldingIssuer,
  mcpPost,
  MemoryTenants,
  startAuthRouter,
  type KeyHolder,
} from '../support/auth-harness.ts';
import { freePort } from '../support/stack.ts';
import { tenantRecord } from '../support/tenant.ts';

const BURST = 5;
let keyholder: KeyHolder;
let router: Awaited<ReturnType<typeof startAuthRouter>>;
let mcpUrl: string;
let verifications = 0;

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return agentClaims(
    { issuer: keyholder.issuer, audience: mcpUrl, agent: 'flood-agent', tenant: 'delta' },
    overrides,
  );
}

beforeAll(async () => {
  keyholder = await keyHoldingIssuer();
  const port = await freePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  const tenants = new MemoryTenants([
    tenantRecord('delta', {
      issuers: [{ issuer: keyholder.issuer, tenantClaim: 'tenant', rolesClaim: 'roles' }],
      tools: openToAgentsAlone(['whoami']),
      roles: defaultRoles(),
    }),
  ]);
  // Counts what reaches verification: the tenant lookup runs for every token that verifies.
  const counting = { get: (id: string) => ((verifications += 1), tenants.get(id)) };
  router = await startAuthRouter({
    port,
    issuers: [{ issuer: keyholder.issuer }],
    tenants: counting,
    logger: pino({ level: 'silent' }),
    authFlood: new AuthFloodGuard({ burst: BURST, refillPerSecond: 0.01 }),
  });
});

afterAll(async () => {
  await router?.close();
  await keyholder?.close();
});

describe('refused tokens per source address, before authentication', () => {
  it('answers 429 with Retry-After once the allowance is used, without verifying, and keeps a known token served', async () => {
    const good = await keyholder.sign(claims());
    expect((await mcpPost(mcpUrl, good)).status).toBe(200);
    const wrongAudience = () => keyholder.sign(claims({ aud: 'https://elsewhere.example/mcp' }));
    for (let i = 0; i < BURST; i++) expect((await mcpPost(mcpUrl, await wrongAudience())).status).toBe(401);

    const before = verifications;
    const refused = await fetch(mcpUrl, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await keyholder.sign(claims())}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000 } });
    // Even a token that would verify is not verified while the address is over its allowance...
    expect(verifications).toBe(before);
    // ...but the token this router verified before is still served.
    const again = await mcpPost(mcpUrl, good);
    expect(again.status).toBe(200);
    expect(again.body).toContain('whoami');
  });
});
