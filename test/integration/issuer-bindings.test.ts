// How the router maps each trusted issuer's claims onto tenants: the tenant claim per issuer, the
// roles claim per tenant binding, the default issuer for tenants that bind none, inert bindings to
// untrusted issuers, and the RFC 8693 `act` chain of a delegated token. Tokens come from issuers
// whose keys the test holds (served as a JWKS, trusted like any IdP), so claim shapes that the dev
// IdP does not produce (custom claim names, `act`) can be exercised under valid signatures.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRoles, defaultTools } from '../../kernel/registry/tenant-registry.ts';
import {
  countingProxy,
  keyHoldingIssuer,
  mcpPost,
  MemoryTenants,
  startAuthRouter,
  type KeyHolder,
} from '../support/auth-harness.ts';
import { freePort } from '../support/stack.ts';
import { tenantRecord } from '../support/tenant.ts';

const TENANT_CLAIM = 'https://bulkhead.example/tenant';
const ROLES_CLAIM = 'https://bulkhead.example/roles';
const decisions: Record<string, unknown>[] = [];
let mcpUrl: string;
let home: KeyHolder; // the installation's default issuer, default claim names
let vendor: KeyHolder; // a second issuer with namespaced claims (Auth0 style)
let proxy: Awaited<ReturnType<typeof countingProxy>>;
let router: Awaited<ReturnType<typeof startAuthRouter>>;

function claims(issuer: KeyHolder, extra: Record<string, unknown>): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: issuer.issuer,
    aud: mcpUrl,
    client_id: 'app-1',
    scope: 'records:read',
    iat: now,
    exp: now + 120,
    jti: randomBytes(8).toString('hex'),
    ...extra,
  };
}

async function whoami(
  token: string,
): Promise<{ status: number; challenge: string; identity?: Record<string, unknown>; body: string }> {
  const answer = await mcpPost(mcpUrl, token, {
    jsonrpc: '2.0',
    id: 3,
    method: 'tools/call',
    params: { name: 'whoami', arguments: {} },
  });
  const match = /"structuredContent":(\{[^}]*\})/.exec(answer.body);
  return { ...answer, ...(match?.[1] ? { identity: JSON.parse(match[1]) as Record<string, unknown> } : {}) };
}

beforeAll(async () => {
  const port = await freePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  [home, vendor] = await Promise.all([keyHoldingIssuer(), keyHoldingIssuer()]);
  proxy = await countingProxy(`${home.issuer}/jwks`);
  const policy = { tools: defaultTools(), roles: defaultRoles() };
  router = await startAuthRouter({
    port,
    issuers: [
      { issuer: home.issuer },
      {
        issuer: vendor.issuer,
        tenantClaim: TENANT_CLAIM,
        rolesClaim: ROLES_CLAIM,
        accessTokenTypes: ['at+jwt', 'JWT'],
      },
    ],
    tenants: new MemoryTenants([
      // No bindings: the installation's default issuer (home) with its claim names.
      tenantRecord('plain', policy),
      tenantRecord('acme', {
        ...policy,
        issuers: [{ issuer: vendor.issuer, tenantClaim: TENANT_CLAIM, rolesClaim: ROLES_CLAIM }],
      }),
      // Bound to an issuer the router does not trust: the binding is inert.
      tenantRecord('orphan', {
        ...policy,
        issuers: [{ issuer: 'http://127.0.0.1:1', tenantClaim: 'tenant', rolesClaim: 'roles' }],
      }),
    ]),
    logger: pino(
      { level: 'info' },
      {
        write(line: string) {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry['msg'] === 'authorization decision') decisions.push(entry);
        },
      },
    ),
  });
});

afterAll(async () => {
  await router?.close();
  await proxy?.close();
  await Promise.all([home?.close(), vendor?.close()]);
});

describe('issuer bindings', () => {
  it("reads the tenant and roles from the claims each issuer's binding names", async () => {
    const token = await vendor.sign(
      claims(vendor, { sub: 'alice', [TENANT_CLAIM]: 'acme', [ROLES_CLAIM]: ['viewer'], roles: ['admin'] }),
    );
    const { status, identity } = await whoami(token);
    expect(status).toBe(200);
    // `roles` (admin) is not this binding's roles claim and is ignored.
    expect(identity).toMatchObject({ tenant: 'acme', user: 'alice', agent: 'app-1', roles: ['viewer'] });
  });

  it('gives a user whose binding carries no roles nothing at all', async () => {
    const token = await vendor.sign(
      claims(vendor, { sub: 'alice', [TENANT_CLAIM]: 'acme', roles: ['admin'] }),
    );
    const { status, body } = await whoami(token);
    expect(status).toBe(200);
    expect(body).toContain('Unknown tool: whoami');
    expect(decisions.at(-1)).toMatchObject({ tenant: 'acme', user: 'alice', reason: 'user_role_denies' });
  });

  it('lets a tenant with no bindings be spoken for by the default issuer only', async () => {
    const fromHome = await home.sign(claims(home, { sub: 'carol', tenant: 'plain', roles: ['viewer'] }));
    expect((await whoami(fromHome)).identity).toMatchObject({ tenant: 'plain', user: 'carol' });
    const fromVendor = await vendor.sign(claims(vendor, { sub: 'carol', [TENANT_CLAIM]: 'plain' }));
    const refused = await whoami(fromVendor);
    expect(refused.status).toBe(401);
    expect(refused.challenge).toContain('may not speak for this tenant');
    // Nor can the home issuer speak for acme, which binds only the vendor issuer.
    const intoAcme = await home.sign(claims(home, { sub: 'carol', tenant: 'acme', [TENANT_CLAIM]: 'acme' }));
    expect((await whoami(intoAcme)).status).toBe(401);
  });

  it('keeps a binding to an untrusted issuer inert, and never fetches its keys', async () => {
    const rogue = await keyHoldingIssuer();
    try {
      const token = await rogue.sign(claims(rogue, { sub: 'x', tenant: 'orphan' }));
      const before = proxy.count();
      const { status, challenge } = await whoami(token);
      expect(status).toBe(401);
      expect(challenge).toContain('issuer is not trusted');
      expect(proxy.count()).toBe(before);
      // The trusted default issuer may not speak for a tenant that binds another issuer either.
      const fromHome = await home.sign(claims(home, { sub: 'x', tenant: 'orphan' }));
      expect((await whoami(fromHome)).status).toBe(401);
    } finally {
      await rogue.close();
    }
  });

  it('records the RFC 8693 delegation chain of an exchanged token and logs it with the decision', async () => {
    const token = await home.sign(
      claims(home, {
        sub: 'dave',
        tenant: 'plain',
        roles: ['viewer'],
        client_id: 'exchange-client',
        act: { sub: 'agent-x', act: { sub: 'agent-y' } },
      }),
    );
    const { identity } = await whoami(token);
    expect(identity).toMatchObject({
      user: 'dave',
      agent: 'exchange-client',
      actors: ['agent-x', 'agent-y'],
    });
    expect(decisions.at(-1)).toMatchObject({
      tenant: 'plain',
      user: 'dave',
      agent: 'exchange-client',
      actors: ['agent-x', 'agent-y'],
      tool: 'whoami',
      decision: 'permit',
    });
  });

  it('treats a token whose sub is its own client as an agent acting alone', async () => {
    const token = await home.sign(
      claims(home, { sub: 'app-1', client_id: 'app-1', tenant: 'plain', roles: ['admin'] }),
    );
    const { identity, body } = await whoami(token);
    // Default policy: whoami is the one tool open to agents alone; roles on such a token count for nothing.
    expect(identity, body).toMatchObject({ user: null, acting_alone: true, roles: [] });
  });

  it("accepts the `typ` values configured for an issuer, and only RFC 9068's for the others", async () => {
    const vendorClaims = claims(vendor, { sub: 'alice', [TENANT_CLAIM]: 'acme', [ROLES_CLAIM]: ['viewer'] });
    expect((await whoami(await vendor.sign(vendorClaims, { typ: 'JWT' }))).status).toBe(200);
    expect((await whoami(await vendor.sign(vendorClaims, { typ: 'application/at+jwt' }))).status).toBe(200);
    for (const typ of ['id_token+jwt', undefined]) {
      const refused = await whoami(await vendor.sign(vendorClaims, { typ }));
      expect(refused.status).toBe(401);
      expect(refused.challenge).toContain('is not accepted');
    }
    const homeClaims = claims(home, { sub: 'carol', tenant: 'plain', roles: ['viewer'] });
    expect((await whoami(await home.sign(homeClaims, { typ: 'JWT' }))).status).toBe(401);
  });

  it.each([
    ['Auth0 client credentials', { sub: 'app-1@clients', gty: 'client-credentials' }],
    [
      'Entra app-only',
      { sub: 'f2a6a4d0-service-principal', idtyp: 'app', client_id: undefined, appid: 'app-1' },
    ],
    ['no sub', {}],
  ])('recognizes an agent acting alone: %s', async (_label, shape) => {
    const token = await home.sign(claims(home, { tenant: 'plain', roles: ['admin'], ...shape }));
    const { identity, body } = await whoami(token);
    expect(identity, body).toMatchObject({ user: null, acting_alone: true, roles: [] });
  });

  it('reads scopes from `scp` as a string (Entra) or a list (Okta) when there is no `scope`', async () => {
    for (const scp of ['records:read openid', ['records:read', 'openid']]) {
      const token = await home.sign(
        claims(home, { sub: 'erin', tenant: 'plain', roles: ['viewer'], scope: undefined, scp }),
      );
      expect((await whoami(token)).identity).toMatchObject({
        user: 'erin',
        scopes: ['records:read', 'openid'],
      });
    }
  });
});
