// Who the console's sign-in lets in, against the real development IdP, which signs the installation's
// people and the tenants' users in alike and puts each one's roles in the same `roles` claim: a
// tenant's user is refused whatever their tenant calls its roles (`auditor`, `operator`), and only
// the installation's own people (no `tenant` claim) get a console role. And what its page of a
// refused sign-in may quote of the callback's URL: an error code, nothing else.
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverOidcClient, type OidcClient } from '../../console/auth/oidc-client.ts';
import { registerConsoleClient } from '../../dev/cli/dev-console.ts';
import { startDevIdp, type StartedDevIdp } from '../../dev/idp/dev-idp.ts';
import { signInAtAuthorizationUrl } from '../../dev/idp/dev-user-login.ts';
import { freePort } from '../support/stack.ts';

const CONSOLE_URL = 'http://127.0.0.1:5997';
const REDIRECT_URI = `${CONSOLE_URL}/auth/callback`;
const initialAccessToken = randomBytes(24).toString('base64url');

let idp: StartedDevIdp;
let oidc: OidcClient;

beforeAll(async () => {
  idp = await startDevIdp({
    port: await freePort(),
    resources: [{ url: 'http://127.0.0.1:8080/mcp', scopes: ['records:read'] }],
    initialAccessToken,
    users: [
      { id: 'aldo', roles: ['auditor'] },
      { id: 'olivia', roles: ['operator'] },
      // Tenant acme's own roles, named as a tenant might name them (its read-only and admin tools).
      { id: 'mallory', tenant: 'acme', roles: ['auditor'] },
      { id: 'trent', tenant: 'acme', roles: ['editor', 'operator'] },
    ],
    logger: pino({ level: 'silent' }),
  });
  const client = await registerConsoleClient({
    issuer: idp.issuer,
    initialAccessToken,
    consoleUrl: CONSOLE_URL,
    clientName: 'Bulkhead console (sign-in roles test)',
  });
  oidc = await discoverOidcClient({
    issuer: idp.issuer,
    ...client,
    redirectUri: REDIRECT_URI,
    scope: 'openid roles',
    rolesClaim: 'roles',
  });
});

afterAll(async () => {
  await idp?.close();
});

/** The whole sign-in of `login`, as the console's callback completes it. */
async function signIn(login: string): Promise<unknown> {
  const { pending, url } = oidc.begin();
  const callback = await signInAtAuthorizationUrl(new URL(url), { redirectUri: REDIRECT_URI, login });
  return oidc.complete(pending, callback.searchParams);
}

describe("the console's sign-in", () => {
  it("gives the installation's operators and auditors their console role", async () => {
    expect(await signIn('aldo')).toEqual({ sub: 'aldo', role: 'auditor' });
    expect(await signIn('olivia')).toEqual({ sub: 'olivia', role: 'operator' });
  });

  it("refuses a tenant's user whose tenant roles are called auditor or operator", async () => {
    for (const login of ['mallory', 'trent'])
      await expect(signIn(login)).rejects.toMatchObject({
        code: 'role_required',
        message: expect.stringContaining('a user of a tenant') as unknown,
      });
  });

  it("names the provider's refusal by its error code only, never text a link can carry", async () => {
    // Anyone can send a browser to /auth/callback?error=...: the console's own page would say it.
    const { pending } = oidc.begin();
    const refused = (error: string): Promise<unknown> =>
      oidc.complete(pending, new URLSearchParams({ error, state: pending.state }));
    await expect(refused('access_denied')).rejects.toThrow('the provider refused the sign-in: access_denied');
    const phishing = 'Your account is locked. Call +1 555 0100 to unlock it';
    await expect(refused(phishing)).rejects.toMatchObject({
      code: 'sign_in_failed',
      message: expect.not.stringContaining('Call') as unknown,
    });
  });
});
