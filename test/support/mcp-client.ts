// Helpers for tests that call /mcp as an agent and look at a tenant's container and volume.
import { randomUUID } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mintClientCredentialsToken, registerAgentClient } from '../../dev/idp/dev-client.ts';
import { ALL_SCOPES } from '../../kernel/packs/manifest.ts';
import { INITIAL_ACCESS_TOKEN, type TestStack } from './stack.ts';

/** An SDK v2 client on `/mcp` with a fixed bearer token, in the 2026-07-28 era unless told otherwise. */
export async function bearerClient(
  mcpUrl: string,
  token: string,
  era: 'modern' | 'legacy' = 'modern',
): Promise<Client> {
  const client = new Client(
    { name: 'test', version: '1.0.0' },
    era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcpUrl), {
      authProvider: { token: () => Promise.resolve(token) },
    }),
  );
  return client;
}

/** An SDK v1 client on `/mcp` with a fixed bearer token, as SDK v1 clients send it (a header). */
export async function v1BearerClient(mcpUrl: string, token: string): Promise<V1Client> {
  const client = new V1Client({ name: 'v1-test', version: '1.0.0' });
  await client.connect(
    new V1Transport(new URL(mcpUrl), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

/** A request a client sent, as sent (headers and body): a benchmark replays it raw. */
export interface CapturedRequest {
  headers: Record<string, string>;
  body: string;
}

/**
 * Runs `calls` on a stock SDK v2 client (2026-07-28 era) at `url`, with a bearer token when given,
 * and returns every request with a body it sent, in order.
 */
export async function captureRequests(
  url: string,
  token: string | undefined,
  calls: (client: Client) => Promise<void>,
): Promise<CapturedRequest[]> {
  const seen: CapturedRequest[] = [];
  const recording: typeof fetch = async (input, init) => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, key) => (headers[key] = value));
    if (typeof init?.body === 'string') seen.push({ headers, body: init.body });
    return fetch(input, init);
  };
  const client = new Client(
    { name: 'bench', version: '1' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      ...(token ? { authProvider: { token: () => Promise.resolve(token) } } : {}),
      fetch: recording,
    }),
  );
  try {
    await calls(client);
  } finally {
    await client.close();
  }
  return seen;
}

/** A token of another OAuth client of `tenant`, registered as `clientName`: another agent, by its verified client id. */
export async function anotherAgentToken(
  stack: TestStack,
  tenant: string,
  clientName: string,
): Promise<string> {
  const other = await registerAgentClient({
    issuer: stack.idp.issuer,
    initialAccessToken: INITIAL_ACCESS_TOKEN,
    tenant,
    scopes: [...ALL_SCOPES],
    clientName,
  });
  return mintClientCredentialsToken({
    issuer: stack.idp.issuer,
    ...other,
    resource: stack.mcpUrl,
    scope: ALL_SCOPES.join(' '),
  });
}

export async function agentClient(stack: TestStack, tenant: string): Promise<Client> {
  return bearerClient(stack.mcpUrl, await stack.agentToken(tenant));
}

export interface WriteOutcome {
  ok: boolean;
  error?: { error_class: string; code: string; retryable: boolean; retry_after_ms?: number };
  ms: number;
}

export async function write(client: Client, title: string): Promise<WriteOutcome> {
  const started = performance.now();
  const result = await client.callTool({
    name: 'records_create',
    arguments: { title, idempotency_key: `write-${randomUUID()}` },
  });
  const ms = performance.now() - started;
  if (!result.isError) return { ok: true, ms };
  return { ok: false, error: (result.structuredContent as { error: WriteOutcome['error'] }).error, ms };
}

export function containerName(stack: TestStack, tenant: string): string {
  return `bulkhead-${stack.ns.namespace}-${tenant}`;
}

export async function containerId(stack: TestStack, tenant: string): Promise<string | undefined> {
  try {
    return (await stack.ns.docker.getContainer(containerName(stack, tenant)).inspect()).Id;
  } catch {
    return undefined;
  }
}

/** Titles in the tenant's volume, read from the host (the volume survives its containers). */
export async function volumeTitles(stack: TestStack, tenant: string): Promise<string[]> {
  const volume = await stack.ns.docker.getVolume(`bulkhead-${stack.ns.namespace}-${tenant}-data`).inspect();
  const db = new DatabaseSync(`${volume.Mountpoint}/packs/records/records.db`, { readOnly: true });
  try {
    return (db.prepare('SELECT title FROM records').all() as { title: string }[]).map((r) => r.title);
  } finally {
    db.close();
  }
}

/** Containers of this test's namespace that belong to a tenant (not helpers). */
export async function tenantContainers(
  stack: TestStack,
): Promise<{ name: string; tenant: string; state: string }[]> {
  const list = await stack.ns.docker.listContainers({
    all: true,
    filters: { label: [`io.bulkhead.namespace=${stack.ns.namespace}`, 'io.bulkhead.tenant'] },
  });
  return list.map((c) => ({
    name: (c.Names[0] ?? '').replace(/^\//, ''),
    tenant: c.Labels['io.bulkhead.tenant'] ?? '',
    state: c.State,
  }));
}
