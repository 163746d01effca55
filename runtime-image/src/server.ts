// The tenant runtime: an MCP server on a unix socket in the tenant's own socket directory. Every
// MCP request must carry the router's call assertion; the health probe carries no tenant data.
import { createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { ERROR_CODES } from '../../kernel/errors/error-codes.ts';
import { loadConfig } from '../../kernel/process/process-entry.ts';
import { KEEP_ALIVE } from '../../kernel/wire/keep-alive.ts';
import { CALL_ASSERTION_HEADER } from '../../kernel/wire/call-assertion.ts';
import { AssertionRejected, createAssertionVerifier, loadRouterKey } from './assertion-verifier.ts';
import { runtimeConfig } from './config.ts';
import { ConnectionDrain } from './connection-drain.ts';
import { startEgressBridge, type EgressBridge } from './egress-bridge.ts';
import { actorOf, createToolServer, type RuntimeCounters } from './tool-server.ts';
import { readEnabledPacks } from './packs/pack-host.ts';
import { startPacks } from './packs/pack-runtime.ts';
import { moveLegacyRecords } from './packs/legacy-records.ts';
import { prestartMovedLegacyRecords } from './packs/prestarted.ts';
import { readReferencePack } from './packs/reference-pack.ts';
import { CallTracer, type CallTrace } from './tracing/call-tracer.ts';
import { sendTraced } from './traced-answer.ts';

const MAX_BODY_BYTES = 1024 * 1024;
// Replaced at bundle time by build.sh ("0" in the production image, "1" only in the :<tag>-faults
// test image): the production bundle holds the literal false, so no environment variable or file
// can switch fault injection on.
const FAULTS_BUILD = process.env.BULKHEAD_FAULTS_BUILD === '1';
/** The context the health ping runs under: it can call no tool (no scopes) and names no user. */
const HEALTH_CONTEXT = { tenant: '', user: null, agent: 'supervisor-health', scopes: [] as string[] };

class BodyTooLarge extends BulkheadError<'body_too_large'> {
  constructor() {
    super('body_too_large', `request body over ${MAX_BODY_BYTES} bytes`);
  }
}

/** The HTTP answer to a refused request: the status from the error table, the code, the message. */
function sendRefusal(res: ServerResponse, error: BodyTooLarge | AssertionRejected): void {
  sendJson(res, ERROR_CODES[error.code].http, { error: error.code, reason: error.message });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * The body as JSON, parsed once, from the bytes the router's assertion covers: the MCP handler is
 * handed it (`parsedBody`) instead of reading and parsing them again, which also spares it a clone
 * of the request to keep a copy of the body. Undefined when they are not JSON: the handler then
 * reads them itself and answers as it does for any body it cannot parse.
 */
function parsedJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The JSON-RPC method of a body, for the call's span name (only read when the call is traced). */
function methodOf(parsed: unknown): string | undefined {
  const method = (parsed as { method?: unknown } | null | undefined)?.method;
  return typeof method === 'string' && method.length <= 64 ? method : undefined;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

/** How long a connection must have been idle, once draining, before it is ended. */
const IDLE_GRACE_MS = 1_000;

async function main(): Promise<void> {
  const config = loadConfig(runtimeConfig);
  if (!config) return;
  const log = pino({ name: 'tenant-runtime', base: { tenant: config.tenantId } });
  const verify = createAssertionVerifier({
    tenantId: config.tenantId,
    routerKey: await loadRouterKey(config.routerPublicKey),
  });
  // Refused at start if it is no key: a runtime that could never use egress must say so at once.
  const gatewayKey =
    config.egressPublicKey === undefined ? undefined : createPublicKey(config.egressPublicKey);
  mkdirSync(config.dataDir, { recursive: true });
  const reference = readReferencePack(config.recordsPackDir, {
    idempotencyWindowMs: config.idempotencyWindowMs,
  });
  // The image's entry moved it already when it started the pack early (packs/reference-prestart.ts).
  if (prestartMovedLegacyRecords() || moveLegacyRecords(config.dataDir, reference.pack.name))
    log.info('moved the records database into the records pack directory');
  // Read once: the pack host and the egress bridge (each pack's port) get the same list.
  const enabled = readEnabledPacks(config.packsDir);
  // Every pack, the reference pack among them, starts (in parallel) before the socket listens: the
  // first call finds their tools listed. The reference pack's process usually runs already: the
  // image's entry started it before loading this bundle, and the pack host adopts it.
  const packs = await startPacks(
    {
      packsDir: config.packsDir,
      enabled,
      egressPort: config.egressPort,
      secretsFile: config.packSecretsFile,
      dataDir: config.dataDir,
      tmpDir: join(tmpdir(), 'packs'),
      confinement: config.packConfinement,
      callTimeoutMs: config.packCallTimeoutMs,
      maxMessageBytes: config.packMaxMessageBytes,
      crashThreshold: config.packCrashThreshold,
      idempotencyWindowMs: config.idempotencyWindowMs,
      reference,
    },
    log,
  );
  const records = packs?.host.packs.find((pack) => pack.name === reference.pack.name);
  /** The records pack answers a ping (started first when it is down or was never up). */
  async function pingPack(): Promise<boolean> {
    const client = await records?.ready();
    if (!client || 'code' in client) return false;
    return client.ping({ timeout: config!.packCallTimeoutMs }).then(
      () => true,
      () => false,
    );
  }
  let refused = 0;
  const counters: RuntimeCounters = { calls: 0, invalid_calls: 0 };
  // Test builds: a marker file on the tenant's own volume makes the next committed write kill this
  // process before its response leaves, the crash the idempotency table must survive.
  const crashMarker = join(config.dataDir, '.faults', 'crash-after-commit');
  const afterCommit = FAULTS_BUILD
    ? () => {
        if (!existsSync(crashMarker)) return;
        rmSync(crashMarker);
        log.warn('fault injection: killing the runtime after a committed write');
        process.kill(process.pid, 'SIGKILL');
      }
    : undefined;

  const tracer = new CallTracer();
  const mcp = createMcpHandler(
    (ctx) => {
      const context = ctx.authInfo?.extra?.callContext;
      if (!context) throw new Error('no verified call context');
      const connection = ctx.authInfo?.extra?.connection as AbortSignal | undefined;
      const trace = ctx.authInfo?.extra?.callTrace as CallTrace | undefined;
      const callContext = context as Parameters<typeof createToolServer>[0]['context'];
      const request = {
        connection: connection ?? new AbortController().signal,
        trace,
        actor: actorOf(callContext),
        packs: callContext.packs,
      };
      return createToolServer({
        context: callContext,
        counters,
        ...(afterCommit ? { afterCommit } : {}),
        ...(trace ? { trace } : {}),
        ...(packs ? { packs: packs.forRequest(request) } : {}),
      });
    },
    { onerror: (error) => log.warn({ err: error }, 'mcp handler error') },
  );

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Draining: this answer is the connection's last, so the router opens a new one (to whichever
    // runtime then listens) for its next request instead of reusing this one.
    if (drain.active) res.setHeader('connection', 'close');
    if (req.method === 'GET' && req.url === '/healthz') {
      // MCP-level: a JSON-RPC ping through the same MCP handler the tools use, and one to the
      // records pack (started again if it is down). A wedged event loop, handler or pack fails it;
      // no tenant data leaves.
      const ping = await mcp.fetch(
        new Request('http://tenant/mcp', {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: {} }),
        }),
        {
          authInfo: {
            token: '',
            clientId: 'supervisor-health',
            scopes: [],
            extra: { callContext: HEALTH_CONTEXT },
          },
        },
      );
      const text = await ping.text();
      if (ping.status !== 200)
        log.warn({ status: ping.status, body: text.slice(0, 300) }, 'health ping failed');
      const ok = ping.status === 200 && text.includes('"result"') && (await pingPack());
      return sendJson(res, ok ? 200 : 503, { ok, mcp: ping.status, refused, ...counters });
    }
    if (req.url !== '/mcp') return sendJson(res, 404, { error: 'not found' });
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (error) {
      if (error instanceof BodyTooLarge) return sendRefusal(res, error);
      throw error;
    }
    const header = req.headers[CALL_ASSERTION_HEADER];
    let callContext;
    try {
      callContext = await verify(typeof header === 'string' ? header : undefined, body);
    } catch (error) {
      if (!(error instanceof AssertionRejected)) throw error;
      refused += 1;
      log.warn({ reason: error.message }, 'refused a call without a valid router assertion');
      return sendRefusal(res, error);
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value === 'string') headers.set(name, value);
    }
    const parsedBody = req.method === 'POST' ? parsedJson(body) : undefined;
    const request = new Request(`http://tenant${req.url}`, {
      method: req.method ?? 'POST',
      headers,
      // A parsed body is all the handler reads; the bytes go along only when it must read them.
      body: req.method === 'POST' && parsedBody === undefined ? body : null,
    });
    // The caller going away (a dropped connection) cancels what the request started, down to a pack.
    const connection = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) connection.abort();
    });
    const callTrace = callContext.trace
      ? tracer.begin(callContext.trace, { tenant: callContext.tenant, method: methodOf(parsedBody) })
      : undefined;
    const response = await mcp.fetch(request, {
      ...(parsedBody === undefined ? {} : { parsedBody }),
      authInfo: {
        token: '',
        clientId: callContext.agent,
        scopes: callContext.scopes,
        extra: { callContext, connection: connection.signal, callTrace },
      },
    });
    if (callTrace) {
      const requestId = (parsedBody as { id?: unknown } | undefined)?.id;
      return sendTraced({ res, response, callTrace, requestId, cancel: () => connection.abort(), log });
    }
    res.writeHead(response.status, Object.fromEntries(response.headers));
    // Streamed, not buffered: progress and log notifications reach the caller while the call runs.
    if (!response.body) return void res.end();
    Readable.fromWeb(response.body).pipe(res);
  }

  rmSync(config.socketPath, { force: true });
  try {
    rmSync(config.egressSocketPath, { force: true });
  } catch (error) {
    // Under gVisor a stale host socket cannot be unlinked from inside (the supervisor removes it
    // before a start); serving calls matters more than egress: the bridge then fails and says so.
    log.warn({ err: error }, 'could not remove a stale egress socket');
  }
  let bridge: EgressBridge | undefined;
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error({ err: error }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  // Far longer than the router's own idle timeout: the router ends idle connections, never this
  // side (kernel/wire/keep-alive.ts).
  server.keepAliveTimeout = KEEP_ALIVE.runtimeIdleMs;
  const drain = new ConnectionDrain(server);
  // The socket directory (owner: this tenant, group: the router) is the access boundary; the socket
  // itself must be connectable by the router's group. A umask rather than chmod: under gVisor the
  // socket is created on the host through the gofer (--host-uds=create), where chmod is refused.
  const umask = process.umask(0o000);
  // The egress bridge's socket is made under the same umask, after this one (the umask is process-wide).
  server.listen({ path: config.socketPath }, () => {
    log.info({ socket: config.socketPath }, 'listening');
    startEgressBridge({
      socketPath: config.egressSocketPath,
      tenantId: config.tenantId,
      gatewayKey,
      port: config.egressPort,
      packs: enabled.map((pack) => pack.name),
      waitMs: config.egressWaitMs,
      maxIdle: 16,
      logger: log,
      ...(packs ? { linkOf: (pack: string) => packs.host.soleCallTraceparent(pack) } : {}),
    }).then(
      (started) => {
        process.umask(umask);
        bridge = started;
      },
      (error: unknown) => {
        process.umask(umask);
        log.error({ err: error }, 'egress bridge failed to start: no egress from this container');
      },
    );
  });

  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down');
    void bridge?.close();
    // connection-drain.ts says why not http.Server.close().
    void drain.close({ idleGraceMs: IDLE_GRACE_MS }).then(() => {
      void (packs?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
    });
    // A call still running this long is cut; the supervisor's drain grace (SIGKILL) bounds it too.
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
