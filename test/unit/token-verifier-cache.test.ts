// The verification cache never stands in for what is checked per request: with a token already
// verified (and remembered), a changed issuer binding or a removed tenant refuses it, and a token
// with the same claims but another signature is verified on its own. A real ES256 issuer on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, type TokenVerifier } from '../../router/auth/token-verifier.ts';
import { agentClaims, keyHoldingIssuer, MemoryTenants, type KeyHolder } from '../support/auth-harness.ts';
import { tenantRecord } from '../support/tenant.ts';

const AUDIENCE = 'http://127.0.0.1:1/mcp';
let issuer: KeyHolder;
let other: KeyHolder;
const tenants = new MemoryTenants([]);

function verifier(cacheSeconds: number): TokenVerifier {
  return createTokenVerifier({
    issuers: [
      { issuer: issuer.issuer, jwksUri: `${issuer.issuer}/jwks` },
      { issuer: other.issuer, jwksUri: `${other.issuer}/jwks` },
    ],
    audience: AUDIENCE,
    algorithms: ['ES256'],
    clockToleranceSeconds: 5,
    cacheSeconds,
    tenants,
  });
}

beforeAll(async () => {
  issuer = await keyHoldingIssuer();
  other = await keyHoldingIssuer();
});

afterAll(async () => {
  await issuer.close();
  await other.close();
});

describe.each([60, 0])('token verifier, cache %i s', (cacheSeconds) => {
  it('refuses a remembered token once its tenant is bound to another issuer, or removed', async () => {
    const verify = verifier(cacheSeconds);
    tenants.records.set('acme', tenantRecord('acme'));
    const token = await issuer.sign(
      agentClaims({ issuer: issuer.issuer, audience: AUDIENCE, agent: 'a1', tenant: 'acme' }),
    );
    expect((await verify(token)).principal).toMatchObject({ tenant: 'acme', agent: 'a1' });
    expect((await verify(token)).principal.tenant).toBe('acme');

    tenants.records.set(
      'acme',
      tenantRecord('acme', {
        issuers: [{ issuer: other.issuer, tenantClaim: 'tenant', rolesClaim: 'roles' }],
      }),
    );
    await expect(verify(token)).rejects.toMatchObject({ code: 'invalid_token', reason: 'tenant_binding' });
    tenants.records.delete('acme');
    await expect(verify(token)).rejects.toMatchObject({ code: 'invalid_token', reason: 'tenant_binding' });
  });

  it('verifies a token with the same claims and another signature on its own', async () => {
    const verify = verifier(cacheSeconds);
    tenants.records.set('beta', tenantRecord('beta'));
    const claims = agentClaims({ issuer: issuer.issuer, audience: AUDIENCE, agent: 'a2', tenant: 'beta' });
    const genuine = await issuer.sign(claims);
    await verify(genuine);
    // The other issuer's key signs the very same claims (iss names the first issuer).
    const forged = await other.sign(claims, { kid: issuer.kid });
    await expect(verify(forged)).rejects.toMatchObject({ code: 'invalid_token', reason: 'rejected' });
    const [head, body] = genuine.split('.');
    await expect(verify(`${head}.${body}.${'A'.repeat(86)}`)).rejects.toMatchObject({
      code: 'invalid_token',
    });
  });
});

describe("a principal's expiry", () => {
  it('is when the router stops accepting its token: its exp, or its iat plus the maximum age if sooner', async () => {
    const verify = verifier(60);
    // Made two days ago: the old token below was not issued before it.
    const createdAt = new Date(Date.now() - 2 * 24 * 3600 * 1000).toISOString();
    tenants.records.set('gamma', tenantRecord('gamma', { createdAt }));
    const now = Math.floor(Date.now() / 1000);
    const who = { issuer: issuer.issuer, audience: AUDIENCE, agent: 'a3', tenant: 'gamma' };
    const short = await issuer.sign(agentClaims(who, { iat: now, exp: now + 120 }));
    expect((await verify(short)).principal.expiresAt).toBe(now + 120);
    // Issued 23 h 50 min ago, valid for two days by its exp: accepted for 10 more minutes (24 h).
    const iat = now - (23 * 60 + 50) * 60;
    const long = await issuer.sign(agentClaims(who, { iat, exp: now + 2 * 24 * 3600 }));
    expect((await verify(long)).principal.expiresAt).toBe(iat + 24 * 3600);
  });
});
