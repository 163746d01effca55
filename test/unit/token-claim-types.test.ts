// Identity claims of the wrong type, under a valid signature: a `sub`, a client claim or an `act`
// chain the verifier cannot read as the RFC says is refused, never read as absent. Read as absent,
// a user token with a numeric `sub` became an agent acting alone (its roles dropped, the tenant's
// agents-alone tools opened, no user in the audit), a non-string `client_id` gave way to `azp`, and
// an actor with no `sub` vanished from the logged delegation chain. A real ES256 issuer on loopback.
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
let issuer: KeyHolder;
let verify: TokenVerifier;
/** The tenant ids the verifier looked up. */
const lookedUp: string[] = [];

class CountingTenants extends MemoryTenants {
  override get(id: string) {
    lookedUp.push(id);
    return super.get(id);
  }
}

beforeAll(async () => {
  issuer = await keyHoldingIssuer();
  verify = issuerVerifier({
    issuer,
    audience: AUDIENCE,
    tenants: new CountingTenants([tenantRecord('acme')]),
  });
});

afterAll(async () => {
  await issuer.close();
});

/** A user's token (alice through app-1) with `overrides` applied. */
function userToken(overrides: Record<string, unknown>): Promise<string> {
  const claims = agentClaims({ issuer: issuer.issuer, audience: AUDIENCE, agent: 'app-1', tenant: 'acme' });
  return issuer.sign({ ...claims, sub: 'alice', roles: ['viewer'], ...overrides });
}

/** An `act` chain of `depth` actors, the outermost first. */
function chain(depth: number): Record<string, unknown> | undefined {
  return depth === 0 ? undefined : { sub: `actor-${depth}`, act: chain(depth - 1) };
}

describe('token verifier, identity claims of the wrong type', () => {
  it('reads the honest claims (the control)', async () => {
    const { principal } = await verify(await userToken({ act: chain(8) }));
    expect(principal).toMatchObject({ user: 'alice', agent: 'app-1', roles: ['viewer'] });
    expect(principal.actors).toHaveLength(8);
  });

  it.each([
    ['a number', 12345],
    ['an empty string', ''],
    ['a list', ['alice']],
    ['an object', { id: 'alice' }],
  ])('refuses a sub that is %s rather than call the token an agent acting alone', async (_label, sub) => {
    await expect(verify(await userToken({ sub }))).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'claims',
    });
  });

  it('refuses a client_id that is no string rather than take the agent from azp', async () => {
    await expect(verify(await userToken({ client_id: 7, azp: 'trusted-app' }))).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'claims',
    });
  });

  it.each([
    ['a list', [{ sub: 'agent-x' }]],
    ['an actor without sub', { client_id: 'agent-x' }],
    ['an actor whose sub is a number', { sub: 9, act: { sub: 'agent-y' } }],
    ['an inner actor without sub', { sub: 'agent-x', act: { act: { sub: 'agent-y' } } }],
    ['null', null],
    ['more than 8 actors', chain(9)],
  ])('refuses an act claim that is %s rather than log the chain short', async (_label, act) => {
    await expect(verify(await userToken({ act }))).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'claims',
    });
  });

  it.each([
    ['upper case', 'ACME'],
    ['a Cyrillic look-alike', '\u0430cme'],
    ['10,000 characters', 'a'.repeat(10_000)],
  ])('refuses a tenant claim in %s without looking it up', async (_label, tenant) => {
    lookedUp.length = 0;
    await expect(verify(await userToken({ tenant }))).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'claims',
    });
    expect(lookedUp).toEqual([]);
  });
});
