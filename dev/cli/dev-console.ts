// The console in the development stack (`bulkhead up`): its confidential client registered at the
// development IdP, its operator and auditor accounts, and the metrics endpoints it scrapes.
import { createServer } from 'node:net';
import { join } from 'node:path';
import { registerClient } from '../idp/dev-client.ts';
import { UsageError } from '../../tenants/cli/command-kit.ts';
import { waitForHttp, type ChildGroup } from './child-processes.ts';

/** `olivia=operator,aldo=auditor` -> installation accounts (no tenant) with those console roles. */
export function parseConsoleUsers(value: string): { id: string; roles: string[] }[] {
  return value
    .split(',')
    .filter(Boolean)
    .map((entry) => {
      const [id, role = ''] = entry.split('=').map((part) => part.trim());
      if (!id || !['operator', 'auditor'].includes(role))
        throw new UsageError(`--console-users entry "${entry}" is not user=operator or user=auditor`);
      return { id, roles: [role] };
    });
}

/** Listens on the loopback port (0: any) and closes again: the port bound, or why it could not be. */
async function probeLoopbackPort(port: number): Promise<number | NodeJS.ErrnoException> {
  const server = createServer();
  const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    server.once('error', resolve);
    server.listen(port, '127.0.0.1', () => resolve(undefined));
  });
  if (error) return error;
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no loopback port');
  return address.port;
}

/** A loopback port free right now (for the metrics listeners, which only the console reads). */
export async function freeLoopbackPort(): Promise<number> {
  const bound = await probeLoopbackPort(0);
  if (typeof bound !== 'number') throw bound;
  return bound;
}

/**
 * Refuses, before anything starts, a port that is not a port, that two flags name (each is free
 * until the first process takes it), or that something already listens on (say a console left
 * running by an earlier `up`): the stack would otherwise come up half, or talk to the other process.
 */
export async function assertPortsFree(ports: { flag: string; value: string }[]): Promise<void> {
  for (const [i, { flag, value }] of ports.entries()) {
    const other = ports.slice(0, i).find((earlier) => Number(earlier.value) === Number(value));
    if (other)
      throw new UsageError(`${other.flag} and ${flag} name the same port ${value}: give each its own`);
  }
  for (const { flag, value } of ports) {
    const port = Number(value);
    if (!Number.isInteger(port) || port < 1 || port > 65_535)
      throw new UsageError(`${flag} ${value} is not a port (1-65535)`);
    const error = await probeLoopbackPort(port);
    if (typeof error === 'number') continue;
    throw new UsageError(
      error.code === 'EADDRINUSE'
        ? `port ${port} (${flag}) is in use on 127.0.0.1: stop what listens there, or choose another with ${flag}`
        : `cannot listen on port ${port} (${flag}): ${error.message}`,
    );
  }
}

export interface DevConsoleOptions {
  children: ChildGroup;
  root: string;
  issuer: string;
  initialAccessToken: string;
  port: string;
  /** BULKHEAD_REDIS_URL and BULKHEAD_NAMESPACE of the stack. */
  common: Record<string, string>;
  metricsTargets: string[];
  /** The stack's sealed audit segments and the key they are checked with. */
  audit: { dir: string; publicKeyFile: string };
}

/**
 * Registers a console's confidential client at the development IdP: the authorization code grant,
 * client_secret_basic, `openid roles`, the redirect URI of the console at `consoleUrl`.
 */
export async function registerConsoleClient(options: {
  issuer: string;
  initialAccessToken: string;
  consoleUrl: string;
  clientName: string;
}): Promise<{ clientId: string; clientSecret: string }> {
  const client = await registerClient({
    issuer: options.issuer,
    initialAccessToken: options.initialAccessToken,
    metadata: {
      client_name: options.clientName,
      redirect_uris: [`${options.consoleUrl.replace(/\/$/, '')}/auth/callback`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid roles',
    },
  });
  return { clientId: String(client['client_id']), clientSecret: String(client['client_secret']) };
}

/** Registers the console's client (authorization code, client secret) and starts the console. */
export async function startDevConsole(options: DevConsoleOptions): Promise<string> {
  const url = `http://127.0.0.1:${options.port}`;
  const client = await registerConsoleClient({
    issuer: options.issuer,
    initialAccessToken: options.initialAccessToken,
    consoleUrl: url,
    clientName: 'Bulkhead console (development)',
  });
  options.children.start('console', join(options.root, 'console/main.ts'), {
    ...options.common,
    BULKHEAD_CONSOLE_PORT: options.port,
    BULKHEAD_CONSOLE_ISSUER: options.issuer,
    BULKHEAD_CONSOLE_CLIENT_ID: client.clientId,
    BULKHEAD_CONSOLE_CLIENT_SECRET: client.clientSecret,
    BULKHEAD_CONSOLE_METRICS_TARGETS: options.metricsTargets.join(' '),
    BULKHEAD_AUDIT_DIR: options.audit.dir,
    BULKHEAD_AUDIT_PUBLIC_KEY_FILE: options.audit.publicKeyFile,
  });
  await waitForHttp(`${url}/healthz`, 30_000);
  return url;
}
