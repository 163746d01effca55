// The console's sign-in where the issuer URL people's browsers use is not how the console reaches
// the provider (docker-compose.yml: the browser's 127.0.0.1:<published port> against dev-idp:9400
// inside the stack). Here the development IdP listens on one port and calls itself by another,
// where a forwarder plays the published port for the test's browser and registration alone: the
// console's discovery, code exchange and key fetch reach it through BULKHEAD_CONSOLE_PROVIDER_URL,
// with the forwarder closed, and the issuer it checks stays the published one.
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverOidcClient } from '../../console/auth/oidc-client.ts';
import { registerConsoleClient } from '../../dev/cli/dev-console.ts';
import { startDevIdp, type StartedDevIdp } from '../../dev/idp/dev-idp.ts';
import { signInAtAuthorizationUrl } from '../../dev/idp/dev-user-login.ts';
import { freePort } from '../support/stack.ts';

const CONSOLE_URL = 'http://127.0.0.1:5998';
const REDIRECT_URI = `${CONSOLE_URL}/auth/callback`;
const initialAccessToken = randomBytes(24).toString('base64url');

let idp: StartedDevIdp;
let issuer: string;
let publishedPort: number;
let client: { clientId: string; clientSecret: string };
/** Connections the forwarder (the published port) took while open. */
let forwarded = 0;

/** The published port: a TCP forwarder from `publishedPort` to the IdP's own, while `fn` runs. */
async function throughPublishedPort<T>(fn: () => Promise<T>): Promise<T> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    forwarded += 1;
    const upstream = connect(Number(new URL(idp.url).port), '127.0.0.1');
    sockets.add(socket).add(upstream);
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(publishedPort, '127.0.0.1', resolve));
  try {
    return await fn();
  } finally {
    // Closed for real: no kept-alive connection outlives it for the console to reuse.
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

beforeAll(async () => {
  publishedPort = await freePort();
  issuer = `http://127.0.0.1:${publishedPort}`;
  idp = await startDevIdp({
    port: await freePort(),
    issuer,
    resources: [{ url: 'http://127.0.0.1:8080/mcp', scopes: ['records:read'] }],
    initialAccessToken,
    users: [
      { id: 'aldo', roles: ['auditor'] },
      // An installation's account without a console role (a tenant's user is refused before its roles).
      { id: 'nora', roles: ['viewer'] },
    ],
    logger: pino({ level: 'silent' }),
  });
  client = await throughPublishedPort(() =>
    registerConsoleClient({
      issuer,
      initialAccessToken,
      consoleUrl: CONSOLE_URL,
      clientName: 'Bulkhead console (provider URL test)',
    }),
  );
});

afterAll(async () => {
  await idp?.close();
});

const options = () => ({
  issuer,
  ...client,
  redirectUri: REDIRECT_URI,
  scope: 'openid roles',
  rolesClaim: 'roles',
});

describe('the console behind a provider URL', () => {
  it('cannot start without it while the issuer URL is unreachable from its process', async () => {
    await expect(discoverOidcClient(options())).rejects.toThrow();
  });

  it('signs an auditor in: the browser at the published issuer, discovery, code exchange and keys through the provider URL', async () => {
    const before = forwarded;
    const oidc = await discoverOidcClient({ ...options(), providerUrl: idp.url });
    expect(forwarded).toBe(before);
    const { pending, url } = oidc.begin();
    // The browser is sent to the issuer's published origin, not to the provider URL.
    expect(new URL(url).origin).toBe(issuer);
    const callback = await throughPublishedPort(() =>
      signInAtAuthorizationUrl(new URL(url), { redirectUri: REDIRECT_URI, login: 'aldo' }),
    );
    expect(forwarded).toBeGreaterThan(before);
    expect(callback.searchParams.get('iss')).toBe(issuer);
    const during = forwarded;
    const user = await oidc.complete(pending, callback.searchParams);
    expect(user).toEqual({ sub: 'aldo', role: 'auditor' });
    expect(forwarded).toBe(during);
  });

  it('still refuses an issuer the provider does not call itself', async () => {
    await expect(
      discoverOidcClient({ ...options(), issuer: 'http://127.0.0.1:1', providerUrl: idp.url }),
    ).rejects.toThrow(/calls itself/);
  });

  it('still refuses a user without a console role', async () => {
    const oidc = await discoverOidcClient({ ...options(), providerUrl: idp.url });
    const { pending, url } = oidc.begin();
    const callback = await throughPublishedPort(() =>
      signInAtAuthorizationUrl(new URL(url), { redirectUri: REDIRECT_URI, login: 'nora' }),
    );
    await expect(oidc.complete(pending, callback.searchParams)).rejects.toThrow(
      /neither the operator nor the auditor/,
    );
  });
});
