// A router app (createApp, real token verifier) on loopback, plus the helpers the authentication
// tests share: a counting proxy in front of an IdP's JWKS, a key-holding issuer (a JWKS server for a
// key pair the test holds, trusted like any IdP, so that one claim at a time can be broken under a
// valid signature), and a raw MCP POST. No Docker: these tests never reach a tenant tool.
import { once } from 'node:events';
import { connect } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { parseRedisUrl } from '../../kernel/redis/connection.ts';
import { REDIS_URL } from './namespace.ts';
import { freePort } from './stack.ts';
import { fetch as undiciFetch, type Agent } from 'undici';
import type { Logger } from 'pino';
import { createApp, type AppDeps } from '../../router/app.ts';
import { listenRouter } from '../../router/listener.ts';
import type { AuthFloodGuard } from '../../router/auth/auth-flood-guard.ts';
import { createTokenVerifier, type TokenVerifier } from '../../router/auth/token-verifier.ts';
import { SessionStore } from '../../router/mcp/sessions.ts';
import { IdempotencyStore } from '../../router/pipeline/idempotency.ts';
import { RecordSealer } from '../../router/pipeline/record-sealing.ts';
import { RateLimiter } from '../../kernel/ratelimit/rate-limiter.ts';
import { DEFAULT_DOCS_DIR } from '../../router/router.ts';
import { builtInSharedTools, type SharedToolModule } from '../../router/tools/shared-registry.ts';
import { ToolSurface } from '../../router/tools/tool-surface.ts';
import type { TrustedIssuerInput } from '../../router/auth/trusted-issuers.ts';
import { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import type { TenantLookup } from '../../router/tenancy/tenant-directory.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { ALL_SCOPES } from '../../kernel/packs/manifest.ts';
import { defaultRoles, openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { tenantRecord } from './tenant.ts';

export async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Forwards GETs to `target` and counts them: the number of JWKS fetches the router really made. */
export async function countingProxy(
  target: string,
): Promise<{ url: string; count(): number; close(): Promise<void> }> {
  let fetches = 0;
  const server = createServer((req, res) => {
    fetches += 1;
    fetch(target).then(
      async (upstream) => {
        res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(await upstream.text());
      },
      () => res.writeHead(502).end(),
    );
  });
  const url = await listen(server);
  return { url: `${url}/jwks`, count: () => fetches, close: () => closeServer(server) };
}

/** An issuer whose signing key the test holds, serving its public key at `/jwks`. */
export interface KeyHolder {
  issuer: string;
  kid: string;
  sign(payload: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function keyHoldingIssuer(): Promise<KeyHolder> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const kid = 'keyholder-1';
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  const issuer = await listen(server);
  return {
    issuer,
    kid,
    sign: (payload, header = {}) =>
      new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid, ...header })
        .sign(privateKey),
    close: () => closeServer(server),
  };
}

/** Claims of an honest agent token for `tenant` from a key-holding issuer, valid for two minutes. */
export function agentClaims(
  who: { issuer: string; audience: string; agent: string; tenant: string },
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: who.issuer,
    aud: who.audience,
    sub: who.agent,
    client_id: who.agent,
    tenant: who.tenant,
    scope: 'records:read',
    iat: now,
    exp: now + 120,
    jti: randomBytes(8).toString('hex'),
    ...overrides,
  };
}

/** A verifier of `issuer`'s ES256 tokens for `audience`, as the router makes one, for unit tests. */
export function issuerVerifier(options: {
  issuer: KeyHolder;
  audience: string;
  tenants: TenantLookup;
  clockToleranceSeconds?: number;
}): TokenVerifier {
  return createTokenVerifier({
    issuers: [{ issuer: options.issuer.issuer, jwksUri: `${options.issuer.issuer}/jwks` }],
    audience: options.audience,
    algorithms: ['ES256'],
    clockToleranceSeconds: options.clockToleranceSeconds ?? 5,
    tenants: options.tenants,
  });
}

/** A tenant of `issuer`'s tokens (its `tenant` and `roles` claims) whose agents may call `whoami`. */
export function whoamiTenant(id: string, issuer: KeyHolder): TenantRecord {
  return tenantRecord(id, {
    issuers: [{ issuer: issuer.issuer, tenantClaim: 'tenant', rolesClaim: 'roles' }],
    tools: openToAgentsAlone(['whoami']),
    roles: defaultRoles(),
  });
}

export class MemoryTenants implements TenantLookup {
  readonly records = new Map<string, TenantRecord>();
  constructor(records: TenantRecord[]) {
    for (const record of records) this.records.set(record.id, record);
  }
  get(id: string): Promise<TenantRecord | undefined> {
    return Promise.resolve(this.records.get(id));
  }
}

export interface HarnessOptions {
  port: number;
  issuers: TrustedIssuerInput[];
  tenants: TenantLookup;
  logger: Logger;
  clockToleranceSeconds?: number;
  jwksCooldownSeconds?: number;
  /** The pre-authentication limit per source address (router/auth/auth-flood-guard.ts); none: off. */
  authFlood?: AuthFloodGuard;
  /**
   * Observability, each off unless given: the audit trail (and its argument digests), Prometheus
   * metrics, request spans.
   */
  observability?: Pick<AppDeps, 'audit' | 'digester' | 'metrics' | 'tracing'>;
  /** How long two requests seen in progress together make others not alone (router/http/connection-activity.ts). */
  connectionQuietMs?: number;
  /** Redis key prefix (default: a random one); keys under it are deleted on close. */
  prefix?: string;
  /**
   * The connection the router's stores use (default: one of its own, closed with it). A caller that
   * builds an audit trail passes the same one, as router/router.ts wires a single connection.
   */
  redis?: Redis;
  /** Where served tool lists change (router/tools/pin-watcher.ts); none: no tools/list_changed. */
  toolChanges?: AppDeps['toolChanges'];
  /**
   * The tenant runtimes' side: a dispatcher that reaches them (default: one that refuses, as no
   * runtime is part of most of these tests) and the tenants' concurrency gate (default: none).
   */
  runtimes?: Pick<AppDeps, 'dispatcher' | 'gate'>;
  /** How long a write waits for another call of its key (IdempotencyOptions.waitMs; default 30 s). */
  idempotencyWaitMs?: number;
  /** An operator's shared tools (BULKHEAD_SHARED_TOOL_MODULES), served after the built-in ones. */
  sharedTools?: SharedToolModule[];
}

/** The router's HTTP app as production wires it, minus the tenant runtimes (unless `runtimes`). */
export async function startAuthRouter(
  options: HarnessOptions,
): Promise<{ mcpUrl: string; close(): Promise<void> }> {
  const resourceUrl = `http://127.0.0.1:${options.port}/mcp`;
  const redis = options.redis ?? new Redis(parseRedisUrl(REDIS_URL));
  const prefix = options.prefix ?? `bulkhead:t-auth-${randomBytes(3).toString('hex')}`;
  const shared = [...builtInSharedTools({ docsDir: DEFAULT_DOCS_DIR }), ...(options.sharedTools ?? [])];
  const app = createApp({
    sessions: new SessionStore({ redis, prefix, idleTtlSeconds: 60 }),
    surface: new ToolSurface({ shared: shared.map((m) => m.definition) }),
    // No pack is approved here: no prompts either.
    prompts: { promptsFor: () => new Map() },
    sharedHandlers: new Map(shared.map((m) => [m.definition.name, m.handler])),
    idempotency: new IdempotencyStore({
      redis,
      prefix,
      sealer: new RecordSealer('auth harness secret'),
      waitMs: options.idempotencyWaitMs,
    }),
    limiter: new RateLimiter({ redis, prefix }),
    resourceUrl,
    authorizationServers: options.issuers.map((i) => i.issuer),
    scopesSupported: () => ALL_SCOPES,
    verify: createTokenVerifier({
      issuers: options.issuers,
      audience: resourceUrl,
      algorithms: ['ES256'],
      clockToleranceSeconds: options.clockToleranceSeconds ?? 1,
      jwksCooldownSeconds: options.jwksCooldownSeconds ?? 30,
      tenants: options.tenants,
    }),
    dispatcher: new TenantDispatcher({
      runtimes: { ensure: () => Promise.reject(new Error('tenant runtimes are not part of this test')) },
      sign: () => Promise.reject(new Error('tenant runtimes are not part of this test')),
      logger: options.logger,
    }),
    ...options.runtimes,
    logger: options.logger,
    ...(options.authFlood ? { authFlood: options.authFlood } : {}),
    connectionQuietMs: options.connectionQuietMs,
    toolChanges: options.toolChanges,
    ...options.observability,
  });
  const server = await listenRouter(app, { port: options.port, host: '127.0.0.1' });
  return {
    mcpUrl: resourceUrl,
    async close() {
      await closeServer(server);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      if (!options.redis) redis.disconnect();
    },
  };
}

/**
 * The router app on a free port, trusting one key-holding issuer alone: what the tests of tenants in
 * a real registry start, on their namespace's Redis and key prefix.
 */
export async function startIssuerRouter(
  issuer: KeyHolder,
  options: Omit<HarnessOptions, 'port' | 'issuers'>,
): ReturnType<typeof startAuthRouter> {
  return startAuthRouter({ port: await freePort(), issuers: [{ issuer: issuer.issuer }], ...options });
}

const MODERN = '2026-07-28';

/** The per-request `_meta` envelope of a 2026-07-28 request, as the raw requests of tests send it. */
export const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientInfo': { name: 'harness', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
} as const;

/**
 * One raw JSON-RPC POST to /mcp, as a stateless 2026-07-28 client sends it: the per-request
 * `_meta` envelope and the `Mcp-Method` / `Mcp-Name` headers that must match the body.
 */
export async function mcpPost(
  mcpUrl: string,
  token: string | undefined,
  message: Record<string, unknown> = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
  /**
   * `connection`: an undici Agent of one connection, to send on a connection the test chooses;
   * `headers`: in place of those sent by default (a header a stock client would not send wrong).
   */
  options: { connection?: Agent; headers?: Record<string, string> } = {},
): Promise<{ status: number; challenge: string; body: string }> {
  const params = (message.params ?? {}) as Record<string, unknown>;
  const envelope = {
    ...message,
    params: {
      ...params,
      _meta: {
        ...((params._meta as Record<string, unknown> | undefined) ?? {}),
        ...MODERN_META,
      },
    },
  };
  const init = {
    method: 'POST',
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': String(message.method),
      ...(typeof params.name === 'string' ? { 'mcp-name': params.name } : {}),
      ...options.headers,
    },
    body: JSON.stringify(envelope),
  };
  const response = options.connection
    ? await undiciFetch(mcpUrl, { ...init, dispatcher: options.connection })
    : await fetch(mcpUrl, init);
  return {
    status: response.status,
    challenge: response.headers.get('www-authenticate') ?? '',
    body: await response.text(),
  };
}

/** What a raw request got back: its status, its header block and its body as sent (chunked or not). */
export interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/**
 * A 2026-07-28 `tools/list` POST written as raw HTTP/1.1 on a connection of its own, `lines` (Host,
 * Authorization) as given: fetch folds repeated headers into one line, and refuses a malformed one.
 * `extra` lines go last (a second framing header, say).
 */
export async function rawMcpPost(mcpUrl: string, lines: string[], extra: string[] = []): Promise<RawAnswer> {
  const url = new URL(mcpUrl);
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/list',
    params: { _meta: MODERN_META },
  });
  const head = [
    'POST /mcp HTTP/1.1',
    ...lines,
    'Content-Type: application/json',
    'Accept: application/json, text/event-stream',
    `Mcp-Protocol-Version: ${MODERN}`,
    'Mcp-Method: tools/list',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...extra,
  ];
  const socket = connect(Number(url.port), url.hostname);
  // Written, not ended: the router closes the connection once it has answered (Connection: close).
  socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const [headers = '', ...rest] = Buffer.concat(chunks).toString('utf8').split('\r\n\r\n');
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? 0),
    headers,
    body: rest.join('\r\n\r\n'),
  };
}
