// The JWT attack suite against the router's resource server: real embedded IdPs issue the genuine
// tokens, forged ones are made by hand with jose here (that is the point). Every attack gets 401
// with an `invalid_token` challenge, and each test first shows that the same path accepts the
// honest token, so a 401 can only come from the check under attack. A request carrying two
// Authorization headers is malformed, whatever they hold: 400 invalid_request.
import { randomBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintClientCredentialsToken, registerAgentClient } from '../../dev/idp/dev-client.ts';
import { startDevIdp, type StartedDevIdp } from '../../dev/idp/dev-idp.ts';
import {
  agentClaims,
  countingProxy,
  keyHoldingIssuer,
  mcpPost,
  MemoryTenants,
  rawMcpPost,
  startAuthRouter,
  type KeyHolder,
} from '../support/auth-harness.ts';
import { freePort } from '../support/stack.ts';
import { tenantRecord } from '../support/tenant.ts';
import { defaultRoles, openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';

const INITIAL_ACCESS_TOKEN = 'jwt-attacks-initial-access-token-0123';
const OTHER_RESOURCE = 'http://127.0.0.1:1/not-bulkhead';
const SHORT_TTL_SECONDS = 2;
const COOLDOWN_SECONDS = 5;
const logger = pino({ level: 'silent' });

let mcpUrl: string;
let idpA: StartedDevIdp; // alpha's issuer (its JWKS behind a counting proxy)
let idpB: StartedDevIdp; // bravo's issuer, short-lived tokens
let idpX: StartedDevIdp; // a real IdP the router does not trust
let keyholder: KeyHolder; // gamma's issuer; the test holds its key
let proxy: Awaited<ReturnType<typeof countingProxy>>;
let router: Awaited<ReturnType<typeof startAuthRouter>>;

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function agentToken(idp: StartedDevIdp, tenant: string, resource = mcpUrl): Promise<string> {
  const agent = await registerAgentClient({
    issuer: idp.issuer,
    initialAccessToken: INITIAL_ACCESS_TOKEN,
    tenant,
    scopes: ['records:read', 'records:write'],
    clientName: `${tenant} attack-suite agent`,
  });
  return mintClientCredentialsToken({ issuer: idp.issuer, ...agent, resource, scope: 'records:read' });
}

/** Claims of an honest gamma token from the key-holding issuer. */
function gammaClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return agentClaims(
    { issuer: keyholder.issuer, audience: mcpUrl, agent: 'gamma-agent', tenant: 'gamma' },
    overrides,
  );
}

async function expectRejected(token: string, reason: RegExp): Promise<void> {
  const { status, challenge } = await mcpPost(mcpUrl, token);
  expect(status).toBe(401);
  expect(challenge).toMatch(/^Bearer /);
  expect(challenge).toContain('error="invalid_token"');
  expect(challenge).toContain('resource_metadata="');
  expect(challenge).toMatch(reason);
}

async function expectAccepted(token: string): Promise<void> {
  const { status, body } = await mcpPost(mcpUrl, token);
  expect(status, body).toBe(200);
  expect(body).toContain('whoami');
}

beforeAll(async () => {
  const port = await freePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  const common = { port: 0, initialAccessToken: INITIAL_ACCESS_TOKEN, logger };
  const scopes = ['records:read', 'records:write'];
  [idpA, idpB, idpX, keyholder] = await Promise.all([
    startDevIdp({
      ...common,
      resources: [
        { url: mcpUrl, scopes },
        { url: OTHER_RESOURCE, scopes },
      ],
    }),
    startDevIdp({
      ...common,
      resources: [{ url: mcpUrl, scopes, accessTokenTtlSeconds: SHORT_TTL_SECONDS }],
    }),
    startDevIdp({ ...common, resources: [{ url: mcpUrl, scopes }] }),
    keyHoldingIssuer(),
  ]);
  proxy = await countingProxy(idpA.jwksUri);
  const bound = (issuer: string) => ({
    issuers: [{ issuer, tenantClaim: 'tenant', rolesClaim: 'roles' }],
    tools: openToAgentsAlone(['whoami']),
    roles: defaultRoles(),
  });
  router = await startAuthRouter({
    port,
    issuers: [
      { issuer: idpA.issuer, jwksUri: proxy.url },
      { issuer: idpB.issuer },
      { issuer: keyholder.issuer },
    ],
    tenants: new MemoryTenants([
      tenantRecord('alpha', bound(idpA.issuer)),
      tenantRecord('bravo', bound(idpB.issuer)),
      tenantRecord('gamma', bound(keyholder.issuer)),
    ]),
    logger,
    clockToleranceSeconds: 1,
    jwksCooldownSeconds: COOLDOWN_SECONDS,
  });
});

afterAll(async () => {
  await router?.close();
  await proxy?.close();
  await Promise.all([idpA?.close(), idpB?.close(), idpX?.close(), keyholder?.close()]);
});

describe('JWT attack suite (each attack: 401)', () => {
  it('accepts the honest tokens of every trusted issuer (the control)', async () => {
    await expectAccepted(await agentToken(idpA, 'alpha'));
    await expectAccepted(await agentToken(idpB, 'bravo'));
    await expectAccepted(await keyholder.sign(gammaClaims()));
  });

  it('refuses no token and a malformed one', async () => {
    const none = await mcpPost(mcpUrl, undefined);
    expect(none.status).toBe(401);
    await expectRejected('not.a.jwt', /not a well-formed JWT/);
  });

  it('refuses alg "none"', async () => {
    const genuine = await agentToken(idpA, 'alpha');
    const header = { ...decodeProtectedHeader(genuine), alg: 'none' };
    await expectRejected(
      `${base64url(header)}.${base64url(decodeJwt(genuine))}.`,
      /ERR_JOSE_ALG_NOT_ALLOWED/,
    );
  });

  it("refuses HS256 signed with the IdP's public key as the HMAC secret", async () => {
    const genuine = await agentToken(idpA, 'alpha');
    const { kid } = decodeProtectedHeader(genuine);
    const jwks = (await (await fetch(idpA.jwksUri)).json()) as { keys: JWK[] };
    const publicJwk = jwks.keys.find((k) => k.kid === kid)!;
    for (const secret of [JSON.stringify(publicJwk), publicJwk.x! + publicJwk.y!]) {
      const forged = await new SignJWT(decodeJwt(genuine))
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
        .sign(new TextEncoder().encode(secret));
      await expectRejected(forged, /ERR_JOSE_ALG_NOT_ALLOWED/);
    }
  });

  it('refuses a token minted for another audience', async () => {
    await expectRejected(await agentToken(idpA, 'alpha', OTHER_RESOURCE), /ERR_JWT_CLAIM_VALIDATION_FAILED/);
    await expectRejected(await keyholder.sign(gammaClaims({ aud: OTHER_RESOURCE })), /CLAIM_VALIDATION/);
  });

  it('refuses a token of an issuer the router does not trust, without fetching its keys', async () => {
    await expectRejected(await agentToken(idpX, 'alpha'), /issuer is not trusted/);
    // Claiming a trusted issuer in `iss` does not help: the keys come from that issuer, not the token.
    const attacker = await generateKeyPair('ES256');
    const forged = await new SignJWT(gammaClaims())
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: keyholder.kid })
      .sign(attacker.privateKey);
    await expectRejected(forged, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
  });

  it('refuses an expired token', async () => {
    const token = await agentToken(idpB, 'bravo');
    const { exp } = decodeJwt(token);
    await new Promise((resolve) => setTimeout(resolve, (exp! + 1 + 1) * 1000 - Date.now() + 100));
    await expectRejected(token, /ERR_JWT_EXPIRED/);
    const now = Math.floor(Date.now() / 1000);
    await expectRejected(
      await keyholder.sign(gammaClaims({ iat: now - 60, exp: now - 30 })),
      /ERR_JWT_EXPIRED/,
    );
  });

  it('refuses "nbf" in the future and "iat" in the future', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRejected(
      await keyholder.sign(gammaClaims({ nbf: now + 60 })),
      /ERR_JWT_CLAIM_VALIDATION_FAILED/,
    );
    await expectRejected(
      await keyholder.sign(gammaClaims({ iat: now + 60 })),
      /ERR_JWT_CLAIM_VALIDATION_FAILED/,
    );
    // Within the tolerance (1 s here) a skewed clock is fine.
    await expectAccepted(await keyholder.sign(gammaClaims({ nbf: now + 1 })));
  });

  it('refuses a missing or wrong "typ"', async () => {
    await expectRejected(await keyholder.sign(gammaClaims(), { typ: undefined }), /CLAIM_VALIDATION_FAILED/);
    await expectRejected(await keyholder.sign(gammaClaims(), { typ: 'JWT' }), /CLAIM_VALIDATION_FAILED/);
    await expectRejected(await keyholder.sign(gammaClaims(), { typ: 'id_token+jwt' }), /CLAIM_VALIDATION/);
  });

  it('refuses an unknown "kid"', async () => {
    const attacker = await generateKeyPair('ES256');
    const genuine = decodeJwt(await agentToken(idpA, 'alpha'));
    const forged = await new SignJWT(genuine)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'attacker-kid' })
      .sign(attacker.privateKey);
    await expectRejected(forged, /ERR_JWKS_NO_MATCHING_KEY/);
  });

  it.each(['jku', 'x5u', 'jwk'] as const)(
    'refuses a "%s" header pointing at attacker keys',
    async (param) => {
      const attacker = await generateKeyPair('ES256');
      const attackerJwk = { ...(await exportJWK(attacker.publicKey)), kid: 'attacker', alg: 'ES256' };
      const value =
        param === 'jwk'
          ? attackerJwk
          : param === 'jku'
            ? 'http://127.0.0.1:1/attacker-jwks'
            : 'http://127.0.0.1:1/x.pem';
      const forged = await new SignJWT(decodeJwt(await agentToken(idpA, 'alpha')))
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'attacker', [param]: value })
        .sign(attacker.privateKey);
      await expectRejected(forged, new RegExp(`header carries ${param}`));
      // Even under the trusted issuer's own key, a key-naming header is refused outright.
      await expectRejected(await keyholder.sign(gammaClaims(), { [param]: value }), /header carries/);
    },
  );

  it("refuses a valid token of tenant A's issuer that claims tenant B", async () => {
    // A genuine token: idpA signed it, for an agent registered as bravo's. bravo trusts only idpB.
    const crossTenant = await agentToken(idpA, 'bravo');
    expect(decodeJwt(crossTenant)['tenant']).toBe('bravo');
    await expectRejected(crossTenant, /may not speak for this tenant/);
    await expectRejected(await keyholder.sign(gammaClaims({ tenant: 'alpha' })), /may not speak/);
  });

  it('refuses a tampered payload', async () => {
    const genuine = await agentToken(idpA, 'alpha');
    const [header, , signature] = genuine.split('.');
    for (const change of [
      { scope: 'records:read records:write' },
      { sub: 'alice' },
      { exp: 4_102_444_800 },
    ]) {
      const payload = base64url({ ...decodeJwt(genuine), ...change });
      await expectRejected(`${header}.${payload}.${signature}`, /ERR_JWS_SIGNATURE_VERIFICATION_FAILED/);
    }
  });
});

describe('JWKS fetches under a flood of unknown kids', () => {
  it('makes at most one JWKS fetch per cooldown window for 1,000 unknown kids', async () => {
    await expectAccepted(await agentToken(idpA, 'alpha')); // keys cached
    // Let the cooldown lapse, so the flood may legitimately cause one refetch.
    await new Promise((resolve) => setTimeout(resolve, COOLDOWN_SECONDS * 1000 + 200));
    const attacker = await generateKeyPair('ES256');
    const claims = decodeJwt(await agentToken(idpA, 'alpha'));
    const tokens = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        new SignJWT(claims)
          .setProtectedHeader({
            alg: 'ES256',
            typ: 'at+jwt',
            kid: `unknown-${i}-${randomBytes(4).toString('hex')}`,
          })
          .sign(attacker.privateKey),
      ),
    );
    const before = proxy.count();
    const started = Date.now();
    const statuses: number[] = [];
    for (let i = 0; i < tokens.length; i += 50) {
      const batch = tokens.slice(i, i + 50);
      statuses.push(...(await Promise.all(batch.map(async (t) => (await mcpPost(mcpUrl, t)).status))));
    }
    const elapsedMs = Date.now() - started;
    const fetches = proxy.count() - before;
    const windows = Math.floor(elapsedMs / (COOLDOWN_SECONDS * 1000)) + 1;
    console.log(
      `jwks flood: 1000 unknown kids in ${elapsedMs} ms -> ${fetches} JWKS fetch(es), ${windows} window(s)`,
    );
    expect(statuses.every((s) => s === 401)).toBe(true);
    expect(fetches).toBeGreaterThanOrEqual(1); // the proxy does see the router's fetches
    expect(fetches).toBeLessThanOrEqual(windows);
  });
});

/** Status line and body of a tools/list sent as raw HTTP/1.1 with these Authorization headers. */
async function withAuthorizations(...values: string[]): Promise<{ status: number; body: string }> {
  const host = `Host: ${new URL(mcpUrl).host}`;
  return rawMcpPost(mcpUrl, [host, ...values.map((value) => `Authorization: ${value}`)]);
}

describe('more than one Authorization header', () => {
  it('refuses the request (400 invalid_request), whichever token comes first', async () => {
    const alpha = `Bearer ${await agentToken(idpA, 'alpha')}`;
    const gamma = `Bearer ${await keyholder.sign(gammaClaims())}`;
    const control = await withAuthorizations(alpha);
    expect(control.status, control.body).toBe(200);
    // Node keeps the first of repeated Authorization headers; a proxy in front may read the last.
    for (const values of [
      [alpha, gamma],
      [gamma, alpha],
      [alpha, 'Bearer not.a.jwt'],
      [alpha, alpha],
    ]) {
      const { status, body } = await withAuthorizations(...values);
      expect(status, body).toBe(400);
      expect(body).toContain('"error":"invalid_request"');
    }
  });
});
