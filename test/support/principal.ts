// A verified principal as the router's authentication step hands it on (router/identity/principal.ts),
// for tests that build a request's context without a token.
import type { Principal } from '../../router/identity/principal.ts';

export function testPrincipal(overrides: Partial<Principal> = {}): Principal {
  return {
    tenant: 'acme',
    user: 'alice',
    agent: 'agent-1',
    actors: [],
    scopes: ['tools:read'],
    roles: [],
    issuer: 'https://idp.example',
    tokenId: undefined,
    expiresAt: Date.now() + 60_000,
    ...overrides,
  };
}
