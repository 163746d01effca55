// A token issued for a tenant since offboarded, presented after a tenant was onboarded again under
// the same id (binding the same issuer, whose users and clients bear the same names): refused, also
// when this router verified it for the earlier tenant and remembers its signature check
// (verified-token-cache.ts). Its roles and scopes were the earlier tenant's. A real ES256 issuer on
// loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenVerifier } from '../../router/auth/token-verifier.ts';
import {
  agentClaims,
  issuerVerifier,
  keyHoldingIssuer,
  MemoryTenants,
  type KeyHolder,
} from '../support/auth-harness.ts';
import { tenantRecord } from '../support/tenant.ts';

const AUDIENCE = 'http://127.0.0.1:1/mcp';
const TOLERANCE_SECONDS = 5;
let issuer: KeyHolder;
let verify: TokenVerifier;
const tenants = new MemoryTenants([]);

beforeAll(async () => {
  issuer = await keyHoldingIssuer();
  verify = issuerVerifier({
    issuer,
    audience: AUDIENCE,
    tenants: tenants,
    clockToleranceSeconds: TOLERANCE_SECONDS,
  });
});

afterAll(async () => {
  await issuer.close();
});

/** Alice's token through app-1 for acme, issued `secondsAgo` ago. */
function aliceToken(secondsAgo: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims = agentClaims({ issuer: issuer.issuer, audience: AUDIENCE, agent: 'app-1', tenant: 'acme' });
  return issuer.sign({ ...claims, sub: 'alice', roles: ['admin'], iat: now - secondsAgo, exp: now + 600 });
}

/** Acme's record, created `secondsAgo` ago. */
function acmeCreated(secondsAgo: number): void {
  tenants.records.set(
    'acme',
    tenantRecord('acme', { createdAt: new Date(Date.now() - secondsAgo * 1000).toISOString() }),
  );
}

describe('token verifier, a tenant onboarded again under the same id', () => {
  it("refuses a token the earlier tenant's user was issued, after the router verified it for that tenant", async () => {
    acmeCreated(3_600);
    const token = await aliceToken(300);
    const { principal } = await verify(token);
    expect(principal).toMatchObject({ tenant: 'acme', user: 'alice', roles: ['admin'] });
    // Offboarded; onboarded again under the id a minute ago.
    acmeCreated(60);
    await expect(verify(token)).rejects.toMatchObject({ code: 'invalid_token', reason: 'tenant_binding' });
    // The new tenant's own tokens are served.
    await expect(verify(await aliceToken(0))).resolves.toMatchObject({ principal: { user: 'alice' } });
  });

  it("serves a token issued as the tenant was created, the issuer's clock behind within the tolerance", async () => {
    acmeCreated(0);
    await expect(verify(await aliceToken(TOLERANCE_SECONDS - 1))).resolves.toMatchObject({
      principal: { tenant: 'acme' },
    });
    await expect(verify(await aliceToken(TOLERANCE_SECONDS + 3))).rejects.toMatchObject({
      reason: 'tenant_binding',
    });
  });
});
