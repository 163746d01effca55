// The console's cookies where it is served over https, as a browser takes them: the real console
// behind a TLS proxy of the test's own (as behind a deployment's), the real development IdP, and
// Debian's chromium signing an auditor in. The session cookie is `__Host-` prefixed (Secure,
// Path=/, no Domain, or the browser refuses it), the sign-in cookie `__Secure-`, and the console
// reads only those names: a cookie of the unprefixed name, which a sibling subdomain or a plain-http
// answer could plant, opens nothing. Every answer carries Strict-Transport-Security, although each
// request reaches the console over plain http from the proxy.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleConfig } from '../../console/config.ts';
import { startConsole, type RunningConsole } from '../../console/console-server.ts';
import { registerConsoleClient } from '../../dev/cli/dev-console.ts';
import { startDevIdp, type StartedDevIdp } from '../../dev/idp/dev-idp.ts';
import { launchChromium, signIn, type BrowserUser } from '../support/console-harness.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';
import { makeTestPki } from '../support/test-pki.ts';
import { freePort } from '../support/stack.ts';

const initialAccessToken = randomBytes(24).toString('base64url');

let ns: TestNamespace;
let idp: StartedDevIdp;
let proxy: Server;
let app: RunningConsole;
/** Where people open the console: the TLS proxy. */
let publicUrl: string;
let browser: Browser;
let aldo: BrowserUser;

/** The console's cookies in the browser (the IdP's, on the same host, are beside them). */
async function consoleCookies(): Promise<Awaited<ReturnType<BrowserUser['context']['cookies']>>> {
  return (await aldo.context.cookies(publicUrl)).filter((c) => c.name.includes('bulkhead_console'));
}

/** Terminates TLS and passes each request on to the console's plain-http port, as a deployment's proxy. */
async function startTlsProxy(key: string, cert: string, target: () => number): Promise<Server> {
  const server = createServer({ key, cert }, (req, res) => {
    const upstream = request(
      { host: '127.0.0.1', port: target(), method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

beforeAll(async () => {
  ns = await testNamespace('console-cookies');
  const dir = join(ns.runDir, 'pki');
  await mkdir(dir);
  const pki = makeTestPki(dir);
  idp = await startDevIdp({
    port: 0,
    resources: [{ url: 'http://127.0.0.1:8080/mcp', scopes: ['records:read'] }],
    initialAccessToken,
    users: [{ id: 'aldo', roles: ['auditor'] }],
    logger: pino({ level: 'silent' }),
  });
  const port = await freePort();
  proxy = await startTlsProxy(await readFile(pki.key, 'utf8'), await readFile(pki.cert, 'utf8'), () => port);
  publicUrl = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const client = await registerConsoleClient({
    issuer: idp.issuer,
    initialAccessToken,
    consoleUrl: publicUrl,
    clientName: `Bulkhead console (${ns.namespace})`,
  });
  app = await startConsole({
    ...consoleConfig.resolve({ port, publicUrl, issuer: idp.issuer, ...client, metricsTargets: [] }),
    installation: ns.installation,
    logger: pino({ level: 'silent' }),
  });
  browser = await launchChromium();
  aldo = await signIn(browser, publicUrl, 'aldo', { ignoreHTTPSErrors: true });
}, 60_000);

afterAll(async () => {
  await aldo?.context.close();
  await browser?.close();
  await app?.close();
  await new Promise((resolve) => proxy?.close(resolve));
  proxy?.closeAllConnections();
  await idp?.close();
  await ns?.cleanup();
});

describe('the console served over https', () => {
  it('keeps the session in a __Host- cookie the browser took and sends back', async () => {
    const cookies = await consoleCookies();
    expect(cookies.map((c) => c.name)).toEqual(['__Host-bulkhead_console']);
    expect(cookies[0]).toMatchObject({
      domain: '127.0.0.1',
      path: '/',
      secure: true,
      httpOnly: true,
      sameSite: 'Strict',
    });
    expect(await aldo.page.getByTestId('role').textContent()).toBe('auditor');
  });

  it('opens nothing with the session under the unprefixed name', async () => {
    const [session] = await consoleCookies();
    const me = (cookie: string): Promise<Response> => fetch(`${app.url}/api/me`, { headers: { cookie } });
    expect((await me(`__Host-bulkhead_console=${session!.value}`)).status).toBe(200);
    expect((await me(`bulkhead_console=${session!.value}`)).status).toBe(401);
  });

  it('seals a sign-in in progress into a __Secure- cookie, sent back to the callback only', async () => {
    const login = await fetch(`${app.url}/auth/login`, { redirect: 'manual' });
    expect(login.headers.getSetCookie()).toEqual([
      expect.stringMatching(
        /^__Secure-bulkhead_console_signin=v1\.[\w-]+; Path=\/auth\/callback; HttpOnly; SameSite=Lax; Max-Age=600; Secure$/,
      ),
    ]);
  });
});

describe('Strict-Transport-Security', () => {
  it('is on every answer of a console whose URL is https, whichever way the request came', async () => {
    const answers = await aldo.page.evaluate(async () =>
      Promise.all(
        ['/', '/api/me', '/healthz', '/no-such-page'].map(async (path) => (await fetch(path)).status),
      ),
    );
    expect(answers).toEqual([200, 200, 200, 404]);
    for (const path of ['/', '/api/me', '/healthz', '/no-such-page', '/auth/login']) {
      const answer = await fetch(`${app.url}${path}`, { redirect: 'manual' });
      expect(answer.headers.get('strict-transport-security')).toBe('max-age=31536000');
    }
  });
});
