// Request bodies still arriving, per tenant, through the router's real app and verifier: a client
// with a valid token that opens connection after connection and sends each body slowly made the
// router hold up to the body bound (1 MiB) per connection for Node's request timeout (5 minutes),
// with no bound on the connections: 300 of them held 321 MB of its heap. Past a tenant's share of
// bodies still arriving its next one is refused at once (429); a request without a body is served,
// and another tenant is not affected.
import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRoles, openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { routerConfig } from '../../router/config.ts';
import { MAX_BODIES_IN_PROGRESS_PER_TENANT } from '../../router/http/body-reads.ts';
import {
  agentClaims,
  keyHoldingIssuer,
  MemoryTenants,
  MODERN_META,
  startAuthRouter,
  type KeyHolder,
} from '../support/auth-harness.ts';
import { freePort } from '../support/stack.ts';
import { tenantRecord } from '../support/tenant.ts';

let keyholder: KeyHolder;
let router: Awaited<ReturnType<typeof startAuthRouter>>;
let mcpUrl: string;
const open: Socket[] = [];

async function tokenOf(tenant: string): Promise<string> {
  return keyholder.sign(
    agentClaims({ issuer: keyholder.issuer, audience: mcpUrl, agent: `${tenant}-agent`, tenant }),
  );
}

/** The body bound in force (the harness leaves the router's default). */
const MAX_BODY_BYTES = routerConfig.fields.maxBodyBytes.schema.parse(undefined);

/** A tools/list of the 2026-07-28 era, padded to `bytes` (within its `_meta`, which it may extend). */
function body(bytes: number): string {
  const message = (padding: string) =>
    JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/list',
      params: {
        _meta: { ...MODERN_META, 'bulkhead.test/padding': padding },
      },
    });
  return message('x'.repeat(bytes - message('').length));
}

/** A POST whose headers and first ten bytes of body are sent, the rest kept back (bound-sized by default). */
interface Slow {
  socket: Socket;
  /** The status the router answered with, once it answers. */
  status: Promise<number>;
  /** Sends the rest of the body. */
  finish(): void;
}

function slowPost(token: string, bytes = MAX_BODY_BYTES): Slow {
  const text = body(bytes);
  const sent = 10;
  const url = new URL(mcpUrl);
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => undefined);
  open.push(socket);
  socket.write(
    [
      'POST /mcp HTTP/1.1',
      `Host: ${url.host}`,
      `Authorization: Bearer ${token}`,
      'Content-Type: application/json',
      'Accept: application/json, text/event-stream',
      'Mcp-Protocol-Version: 2026-07-28',
      'Mcp-Method: tools/list',
      `Content-Length: ${Buffer.byteLength(text)}`,
      '',
      text.slice(0, sent),
    ].join('\r\n'),
  );
  let received = '';
  const status = new Promise<number>((resolve) => {
    socket.on('data', (data: Buffer) => {
      received += data.toString('utf8');
      const line = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (line) resolve(Number(line[1]));
    });
  });
  return { socket, status, finish: () => socket.write(text.slice(sent)) };
}

/** The status, or undefined when the router has not answered within a second (still reading). */
async function answeredAtOnce(slow: Slow): Promise<number | undefined> {
  return Promise.race([slow.status, delay(1_000).then(() => undefined)]);
}

beforeAll(async () => {
  keyholder = await keyHoldingIssuer();
  const port = await freePort();
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  const policy = {
    issuers: [{ issuer: keyholder.issuer, tenantClaim: 'tenant', rolesClaim: 'roles' }],
    tools: openToAgentsAlone(['whoami']),
    roles: defaultRoles(),
  };
  router = await startAuthRouter({
    port,
    issuers: [{ issuer: keyholder.issuer }],
    tenants: new MemoryTenants([tenantRecord('delta', policy), tenantRecord('omega', policy)]),
    logger: pino({ level: 'silent' }),
  });
});

afterAll(async () => {
  for (const socket of open) socket.destroy();
  await router?.close();
  await keyholder?.close();
});

describe('request bodies in progress, per tenant', () => {
  it("refuses a tenant's body past its share at once, and serves the others and other tenants", async () => {
    const delta = await tokenOf('delta');
    const held: Slow[] = [];
    for (let i = 0; i < MAX_BODIES_IN_PROGRESS_PER_TENANT - 1; i++) held.push(slowPost(delta));
    // Within the share, a small body that arrives in pieces (headers, then body, as clients send
    // them) is read and served.
    const small = slowPost(delta, 300);
    small.finish();
    expect(await small.status).toBe(200);
    held.push(slowPost(delta));
    // One more: refused at once once the router counts the others (they reach it in any order).
    let refused: number | undefined;
    for (let attempt = 0; attempt < 10 && refused === undefined; attempt++) {
      refused = await answeredAtOnce(slowPost(delta));
      if (refused === undefined) await delay(100);
    }
    expect(refused).toBe(429);
    // At its share, the tenant's requests without a body are still served.
    const gone = await fetch(mcpUrl, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${delta}`, 'mcp-session-id': 'x'.repeat(43) },
    });
    expect(gone.status).toBe(404);

    // Another tenant's slow body is read (no answer until it is whole), then served.
    const other = slowPost(await tokenOf('omega'));
    expect(await answeredAtOnce(other)).toBeUndefined();
    other.finish();
    expect(await other.status).toBe(200);

    // The held bodies, once whole, are served, and free the tenant's share.
    for (const slow of held) slow.finish();
    expect(await Promise.all(held.map((slow) => slow.status))).toEqual(held.map(() => 200));
    const again = slowPost(delta);
    expect(await answeredAtOnce(again)).toBeUndefined();
    again.finish();
    expect(await again.status).toBe(200);
  });
});
