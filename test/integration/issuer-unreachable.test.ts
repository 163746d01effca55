// A trusted issuer whose keys the router cannot fetch (its JWKS endpoint down, not answering within
// jose's timeout, answering an error status or no JSON) is an outage, not a bad token: the agent gets 503 with Retry-After and a
// JSON-RPC error saying so, its token is not counted against its address as a refused one, and the
// same token is served once the keys can be read. (Before: a connection failure was an "unhandled
// router error", answered 500 `{"error":"internal_error"}`, and the others a 401 that told the
// client its valid token was invalid.)
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRoles, openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { AuthFloodGuard } from '../../router/auth/auth-flood-guard.ts';
import {
  agentClaims,
  keyHoldingIssuer,
  mcpPost,
  MemoryTenants,
  startAuthRouter,
  type KeyHolder,
} from '../support/auth-harness.ts';
import { freePort } from '../support/stack.ts';
import { tenantRecord } from '../support/tenant.ts';

let keyholder: KeyHolder;
/** Accepts connections and never answers: jose's fetch of the keys times out. */
let silent: Server;
const held: Socket[] = [];
/** Answers every request with an error status, or with a body that is no JSON. */
let failing: HttpServer;
let garbled: HttpServer;
const routers: Awaited<ReturnType<typeof startAuthRouter>>[] = [];

/** A router trusting the key holder, whose keys it fetches from `jwksUri`; one refused token per address. */
async function routerWithKeysAt(jwksUri: string): Promise<string> {
  const port = await freePort();
  const router = await startAuthRouter({
    port,
    issuers: [{ issuer: keyholder.issuer, jwksUri }],
    tenants: new MemoryTenants([
      tenantRecord('sigma', {
        issuers: [{ issuer: keyholder.issuer, tenantClaim: 'tenant', rolesClaim: 'roles' }],
        tools: openToAgentsAlone(['whoami']),
        roles: defaultRoles(),
      }),
    ]),
    logger: pino({ level: 'silent' }),
    authFlood: new AuthFloodGuard({ burst: 1, refillPerSecond: 0.01 }),
  });
  routers.push(router);
  return router.mcpUrl;
}

async function tokenFor(mcpUrl: string): Promise<string> {
  return keyholder.sign(
    agentClaims({ issuer: keyholder.issuer, audience: mcpUrl, agent: 'sigma-agent', tenant: 'sigma' }),
  );
}

beforeAll(async () => {
  keyholder = await keyHoldingIssuer();
  silent = createServer((socket) => void held.push(socket));
  failing = createHttpServer((_req, res) => res.writeHead(502).end('bad gateway'));
  garbled = createHttpServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'),
  );
  for (const server of [silent, failing, garbled]) {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  }
});

afterAll(async () => {
  for (const router of routers) await router.close();
  for (const socket of held) socket.destroy();
  silent?.close();
  failing?.close();
  garbled?.close();
  await keyholder?.close();
});

describe("a trusted issuer's keys out of reach", () => {
  it('answers 503 with Retry-After and a JSON-RPC error, and does not count the token as refused', async () => {
    const closed = `http://127.0.0.1:${await freePort()}/jwks`;
    const at = (server: { address(): unknown }) =>
      `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks`;
    for (const jwksUri of [closed, at(silent), at(failing), at(garbled)]) {
      const mcpUrl = await routerWithKeysAt(jwksUri);
      const token = await tokenFor(mcpUrl);
      // Twice: a token refused as invalid would use the address's allowance of one, and the
      // second would be answered auth_flood (429) unverified.
      for (let i = 0; i < 2; i++) {
        const { status, body, challenge } = await mcpPost(mcpUrl, token);
        expect({ jwksUri, status }).toEqual({ jwksUri, status: 503 });
        expect(challenge).toBe('');
        expect(JSON.parse(body)).toMatchObject({
          jsonrpc: '2.0',
          error: { code: -32000, message: expect.stringMatching(/keys/) },
        });
      }
      const plain = await fetch(mcpUrl, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      expect(plain.status).toBe(503);
      expect(plain.headers.get('retry-after')).toBe('5');
    }
  }, 30_000);

  it('serves the same token once the keys can be read', async () => {
    const mcpUrl = await routerWithKeysAt(`${keyholder.issuer}/jwks`);
    const { status, body } = await mcpPost(mcpUrl, await tokenFor(mcpUrl));
    expect(status, body).toBe(200);
  });
});
