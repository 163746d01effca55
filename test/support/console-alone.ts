// The console on its own with a development IdP of its own, for tests of the console's sign-in and
// sessions that need no tenant stack: a namespace, the IdP with the given people, the console's
// client registered there, and the console on a free port with the configuration given; more
// consoles of the same installation behind the same IdP, and a sign-in without a browser.
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { expect } from 'vitest';
import { consoleConfig } from '../../console/config.ts';
import { startConsole, type RunningConsole } from '../../console/console-server.ts';
import { registerConsoleClient } from '../../dev/cli/dev-console.ts';
import { startDevIdp, type StartedDevIdp } from '../../dev/idp/dev-idp.ts';
import { signInAtAuthorizationUrl } from '../../dev/idp/dev-user-login.ts';
import { testNamespace, type TestNamespace } from './namespace.ts';
import { freePort } from './stack.ts';

type Client = Awaited<ReturnType<typeof registerConsoleClient>>;

export interface ConsoleAlone {
  ns: TestNamespace;
  idp: StartedDevIdp;
  app: RunningConsole;
  /** Where people open the console. */
  origin: string;
  /** Another console process of the same installation, behind the same IdP (closed with this one). */
  another(): Promise<{ app: RunningConsole; origin: string }>;
  /**
   * Another process of this same console (its client, its public URL `origin`) on a port of its
   * own, `url`: as two consoles behind one load balancer are.
   */
  replica(): Promise<RunningConsole>;
  close(): Promise<void>;
}

export async function startConsoleAlone(options: {
  name: string;
  users: { id: string; roles: string[] }[];
  /** A Redis of the test's own (test/support/private-redis.ts) instead of the shared one. */
  redisUrl?: string;
  /**
   * The host people open the first console at (its public URL's): `localhost` puts it on another
   * site than the IdP's 127.0.0.1, as a provider of its own domain is, so the browser sends its
   * SameSite=Strict cookie on no redirect from the IdP.
   */
  host?: string;
  /** The bound on signed-in sessions (BULKHEAD_CONSOLE_MAX_SESSIONS); the default otherwise. */
  maxSessions?: number;
  /** The sealed segments the console reads (BULKHEAD_AUDIT_DIR, BULKHEAD_AUDIT_PUBLIC_KEY_FILE). */
  audit?: { dir: string; publicKeyFile: string };
}): Promise<ConsoleAlone> {
  const initialAccessToken = randomBytes(24).toString('base64url');
  const ns = await testNamespace(options.name, options.redisUrl);
  const idp = await startDevIdp({
    port: 0,
    resources: [{ url: 'http://127.0.0.1:8080/mcp', scopes: ['records:read'] }],
    initialAccessToken,
    users: options.users,
    logger: pino({ level: 'silent' }),
  });
  const consoles: RunningConsole[] = [];
  const run = async (settings: { port: number; publicUrl?: string } & Client): Promise<RunningConsole> => {
    // Nothing else about sessions configured: the console's defaults are what these tests see.
    const bound = options.maxSessions === undefined ? {} : { maxSessions: options.maxSessions };
    const { audit } = options;
    const sealed = audit ? { auditDir: audit.dir, auditPublicKeyFile: audit.publicKeyFile } : {};
    const app = await startConsole({
      ...consoleConfig.resolve({ issuer: idp.issuer, metricsTargets: [], ...bound, ...sealed, ...settings }),
      installation: ns.installation,
      logger: pino({ level: 'silent' }),
    });
    consoles.push(app);
    return app;
  };
  const start = async (
    host = '127.0.0.1',
  ): Promise<{ app: RunningConsole; origin: string; client: Client }> => {
    const port = await freePort();
    const origin = `http://${host}:${port}`;
    const client = await registerConsoleClient({
      issuer: idp.issuer,
      initialAccessToken,
      consoleUrl: origin,
      clientName: `Bulkhead console (${ns.namespace}:${port})`,
    });
    return { app: await run({ port, publicUrl: origin, ...client }), origin, client };
  };
  const { app, origin, client } = await start(options.host);
  return {
    ns,
    idp,
    app,
    origin,
    another: () => start(),
    replica: async () => run({ port: await freePort(), publicUrl: origin, ...client }),
    async close() {
      for (const running of consoles) await running.close();
      await idp.close();
      await ns.cleanup();
    },
  };
}

/** A whole sign-in of `login` at the console at `origin`, without a browser: its session's Set-Cookie. */
export async function signInByFetch(origin: string, login: string): Promise<string> {
  const start = await fetch(`${origin}/auth/login`, { redirect: 'manual' });
  const pending = start.headers.getSetCookie()[0]!.split(';')[0]!;
  const back = await signInAtAuthorizationUrl(new URL(start.headers.get('location')!), {
    redirectUri: `${origin}/auth/callback`,
    login,
  });
  const done = await fetch(back, { headers: { cookie: pending } });
  expect(done.status).toBe(200);
  const session = done.headers.getSetCookie().find((c) => c.startsWith('bulkhead_console='));
  expect(session).toBeDefined();
  return session!;
}

/**
 * `login` signed in at `running` without a browser: the headers of an action of theirs (session
 * cookie, CSRF token, the console's origin), and the session's id.
 */
export async function actionHeaders(
  running: ConsoleAlone,
  login: string,
): Promise<{ headers: Record<string, string>; sessionId: string }> {
  const cookie = (await signInByFetch(running.origin, login)).split(';')[0]!;
  const me = await fetch(`${running.app.url}/api/me`, { headers: { cookie } });
  const { csrf } = (await me.json()) as { csrf: string };
  return {
    headers: { cookie, origin: running.origin, 'x-csrf-token': csrf, 'content-type': 'application/json' },
    sessionId: cookie.slice(cookie.indexOf('=') + 1),
  };
}

/** How the console at `origin` answers `/api/me` for a session cookie (`name=value`, attributes or not). */
export async function sessionStatus(origin: string, cookie: string): Promise<number> {
  const res = await fetch(`${origin}/api/me`, { headers: { cookie: cookie.split(';')[0]! } });
  await res.body?.cancel();
  return res.status;
}
