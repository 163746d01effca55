// The console on its own with a development IdP of its own, for tests of the console's sign-in and
// sessions that need no tenant stack: a namespace, the IdP with the given people, the console's
// client registered there, and the console on a free port with the configuration given.
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { consoleConfig } from '../../console/config.ts';
import { startConsole, type RunningConsole } from '../../console/console-server.ts';
import { registerConsoleClient } from '../../dev/cli/dev-console.ts';
import { startDevIdp, type StartedDevIdp } from '../../dev/idp/dev-idp.ts';
import { testNamespace, type TestNamespace } from './namespace.ts';
import { freePort } from './stack.ts';

export interface ConsoleAlone {
  ns: TestNamespace;
  idp: StartedDevIdp;
  app: RunningConsole;
  /** Where people open the console. */
  origin: string;
  close(): Promise<void>;
}

export async function startConsoleAlone(options: {
  name: string;
  users: { id: string; roles: string[] }[];
}): Promise<ConsoleAlone> {
  const initialAccessToken = randomBytes(24).toString('base64url');
  const ns = await testNamespace(options.name);
  const idp = await startDevIdp({
    port: 0,
    resources: [{ url: 'http://127.0.0.1:8080/mcp', scopes: ['records:read'] }],
    initialAccessToken,
    users: options.users,
    logger: pino({ level: 'silent' }),
  });
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const client = await registerConsoleClient({
    issuer: idp.issuer,
    initialAccessToken,
    consoleUrl: origin,
    clientName: `Bulkhead console (${ns.namespace})`,
  });
  // Nothing about sessions configured: the console's defaults are what these tests see.
  const app = await startConsole({
    ...consoleConfig.resolve({ port, issuer: idp.issuer, ...client, metricsTargets: [] }),
    installation: ns.installation,
    logger: pino({ level: 'silent' }),
  });
  return {
    ns,
    idp,
    app,
    origin,
    async close() {
      await app.close();
      await idp.close();
      await ns.cleanup();
    },
  };
}
