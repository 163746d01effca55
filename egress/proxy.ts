// The gateway's HTTP forward proxy over one tenant's tunnels: CONNECT host:port (HTTPS; the bytes
// are relayed as they are and counted both ways) and absolute-form plain HTTP (forwarded, with the
// upstream's credential header set by the gateway). Every request, refused or served, is one audit
// entry in the tenant's trail with host, method, status, bytes and latency (but one refused while
// the trail takes none: audit_unavailable, logged only), one span when tracing (egress-spans.ts).
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../kernel/errors/error-codes.ts';
import type { EgressCredential } from '../kernel/tenant/egress-policy.ts';
import { admit, isRefusal, refusal, refusalText, type Admitted, type Refusal } from './admission.ts';
import { endToEnd, forwardedHeaders } from './forward-headers.ts';
import { enforceHeadersDeadline } from './headers-deadline.ts';
import type { NameResolver } from './name-lookup.ts';
import { destination, parseAuthority, type Destination } from './policy.ts';
import { UpstreamConnectionsBusy, type UpstreamAgents } from './upstream-agents.ts';
import type { UpstreamBudget } from './upstream-budget.ts';
import {
  refusedOutcome,
  tunnelOpened,
  upstreamEvent,
  type TunnelContext,
  type UpstreamEvent,
  type UpstreamOutcome,
} from './upstream-event.ts';

export interface ProxyOptions {
  budget: UpstreamBudget;
  /** Resolves host names, a few at a time per tenant: one for the whole gateway (egress/name-lookup.ts). */
  names: NameResolver;
  /** The value of a tenant's credential, or undefined when it cannot be read. */
  credential(tenant: string, credential: EgressCredential): Promise<string | undefined>;
  /** Each tenant's keep-alive connections to upstreams (egress/upstream-agents.ts). */
  agents: UpstreamAgents;
  /** Too many audit entries wait for Redis: every new request is refused (egress/admission.ts). */
  auditFull(): boolean;
  /** Every upstream request or tunnel, once it ended. */
  observe(event: UpstreamEvent): void;
  /**
   * A CONNECT tunnel as it opened (reason `tunnel_opened`), before observe() gets it at its end:
   * a tunnel may stay open for hours, and one a killed gateway never closed is on record all the same.
   */
  opened(event: UpstreamEvent): void;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /** How long a request's headers may take (egress/headers-deadline.ts); 30 s unless a test shortens it. */
  headersTimeoutMs?: number;
}

/** Counts the bytes a stream delivers. */
function counted(stream: Duplex | IncomingMessage, into: { bytes: number }): void {
  stream.on('data', (chunk: Buffer) => (into.bytes += chunk.length));
}

export function createProxyServer(
  options: ProxyOptions,
  contextOf: (socket: Socket) => TunnelContext | undefined,
): Server {
  const server = createServer({ keepAliveTimeout: 5_000 });
  enforceHeadersDeadline(server, options.headersTimeoutMs ?? 30_000);

  const record = (
    ctx: TunnelContext,
    dest: Destination,
    method: string,
    started: number,
    outcome: UpstreamOutcome,
  ): void => options.observe(upstreamEvent({ ctx, dest, method, started }, outcome));

  const refused = (
    ctx: TunnelContext,
    dest: Destination,
    method: string,
    started: number,
    r: Refusal,
  ): void => record(ctx, dest, method, started, refusedOutcome(r));

  /**
   * Gives back the budget a request was charged (admission.ts) when it never reached the upstream.
   * A refund Redis does not take leaves the call charged: over-charged, never under.
   */
  const giveBack = (ok: Admitted): void => {
    if (ok.charged && ok.upstream) void options.budget.refund(ok.upstream.name).catch(() => undefined);
  };

  const { budget, names } = options;
  const admission = ({ tenant, policy, pack }: TunnelContext, dest: Destination) =>
    admit({ tenant, policy, pack, dest, budget, names, auditFull: options.auditFull() });

  /** Connections with a request in flight: the next may come only once it was answered. */
  const busy = new WeakSet<Socket>();

  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    client.on('error', () => client.destroy());
    // Pipelined behind a request in flight, as on the 'request' side below: refused, unaudited.
    if (busy.has(client)) return client.end(refusalText(refusal('egress_bad_request', 'pipelined')));
    const ctx = contextOf(req.socket);
    const started = Date.now();
    const dest = parseAuthority(req.url ?? '');
    if (!ctx || !dest) return client.end(refusalText(refusal('egress_bad_request', 'bad_connect_target')));
    void admission(ctx, dest).then(
      (verdict) => {
        if (isRefusal(verdict)) {
          refused(ctx, dest, 'CONNECT', started, verdict);
          return client.end(refusalText(verdict));
        }
        tunnel(ctx, dest, verdict, client, head, started);
      },
      () => client.end(refusalText(refusal('upstream_unreachable', 'gateway_state_unavailable'))),
    );
  });

  function tunnel(
    ctx: TunnelContext,
    dest: Destination,
    ok: Admitted,
    client: Socket,
    head: Buffer,
    started: number,
  ): void {
    const sent = { bytes: head.length };
    const received = { bytes: 0 };
    let latencyMs = 0;
    let connected = false;
    /** The client left before the tunnel opened. */
    let left = false;
    const finish = (): void => {
      const reason = connected ? 'tunnel' : left ? 'client_gone' : 'upstream_unreachable';
      // Never connected: the upstream saw no call.
      if (!connected) giveBack(ok);
      record(ctx, dest, 'CONNECT', started, {
        status: connected ? 200 : left ? 499 : 502,
        sent: sent.bytes,
        received: received.bytes,
        latencyMs,
        decision: 'permit',
        reason,
        ...(reason === 'upstream_unreachable' ? { errorType: reason } : {}),
        ...(ok.upstream ? { upstream: ok.upstream.name } : {}),
      });
    };
    // A client that left while its request was admitted (its name, then its budget: seconds at
    // most) gets no upstream connection. Dialed anyway, one whose client went with a reset stayed
    // open until the idle timeout, counted in none of the tenant's bounds (the pool counts tunnels).
    if (client.destroyed) {
      left = true;
      return finish();
    }
    const upstream = connect({
      host: ok.address,
      port: dest.port,
      timeout: options.connectTimeoutMs,
      noDelay: true,
    });
    // The client's end is the upstream's, while it connects as well as after.
    client.once('close', () => {
      left = !connected;
      upstream.destroy();
    });
    upstream.once('timeout', () => upstream.destroy());
    upstream.once('error', () => {
      if (!connected)
        client.end(
          refusalText(
            refusal('upstream_unreachable', 'connect_failed', { host: dest.host, port: dest.port }),
          ),
        );
      else client.destroy();
    });
    upstream.once('close', () => {
      client.destroy();
      finish();
    });
    upstream.once('connect', () => {
      connected = true;
      latencyMs = Date.now() - started;
      // On record as it opens, not only at its close: hours later, or never for a killed gateway.
      options.opened(tunnelOpened({ ctx, dest, method: 'CONNECT', started }, latencyMs, ok.upstream?.name));
      upstream.setTimeout(options.idleTimeoutMs);
      client.setTimeout(options.idleTimeoutMs, () => client.destroy());
      if (head.length > 0) upstream.write(head);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      counted(client, sent);
      counted(upstream, received);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // A refusal ends its connection: each refused request then costs the tenant a new connection
    // into its bridge, which the gateway dials at a bounded rate (tunnel-pool.ts, dialsPerSecond).
    // Kept alive, one connection could send refused requests, each audited, as fast as the gateway
    // answers them.
    const reply = (r: Refusal): void => {
      res
        .writeHead(r.status, { 'content-type': 'application/json', connection: 'close', ...r.headers })
        .end(JSON.stringify(r.body));
    };
    // One request of a connection at a time. Node's server hands over pipelined requests as it
    // parses them, before the first is answered: one write of many requests would start as many
    // upstream requests (past BULKHEAD_EGRESS_MAX_CONNECTIONS, which counts connections) and audit
    // entries (past the dial rate a refusal's closed connection costs). A pipelined request is
    // refused before admission, unaudited, and its answer ends the connection.
    if (busy.has(req.socket))
      return reply(
        refusal('egress_bad_request', 'pipelined', {
          message: 'send the next request on this connection once the previous one was answered',
        }),
      );
    busy.add(req.socket);
    res.once('close', () => busy.delete(req.socket));
    const ctx = contextOf(req.socket);
    const started = Date.now();
    const method = req.method ?? 'GET';
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '');
    } catch {
      url = undefined;
    }
    if (!ctx || !url || url.protocol !== 'http:' || url.username || url.password)
      return reply(
        refusal('egress_bad_request', 'not_absolute_http', {
          message: 'send absolute-form http:// requests, or CONNECT host:port for https',
        }),
      );
    const dest = destination(url.hostname, Number(url.port || 80));
    if (!dest)
      return reply(
        refusal('egress_bad_request', 'bad_host', {
          message: 'name a DNS name or an IPv4 address of at most 253 characters',
        }),
      );
    void forward(ctx, dest, url, req, res, started, method, reply).catch(() => {
      if (!res.headersSent) reply(refusal('upstream_unreachable', 'gateway_state_unavailable'));
      else res.destroy();
    });
  });

  async function forward(
    ctx: TunnelContext,
    dest: Destination,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
    started: number,
    method: string,
    reply: (r: Refusal) => void,
  ): Promise<void> {
    // The client's end, before the whole answer was passed on, is the upstream request's: unread,
    // its connection (in no bound of the tenant's) would stay open until the idle timeout.
    const left = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) left.abort();
    });
    const verdict = await admission(ctx, dest);
    if (isRefusal(verdict)) {
      refused(ctx, dest, method, started, verdict);
      return reply(verdict);
    }
    const headers = forwardedHeaders(req, url);
    const credential = verdict.upstream?.credential;
    if (credential) {
      const deny = (code: ErrorCode, reason: string, message: string): void => {
        const where = { host: dest.host, port: dest.port, upstream: verdict.upstream?.name };
        const r = refusal(code, reason, { ...where, message });
        giveBack(verdict);
        refused(ctx, dest, method, started, r);
        reply(r);
      };
      // TRACE asks the upstream to answer with the request as it got it: the credential with it.
      if (method === 'TRACE')
        return deny(
          'egress_denied',
          'credential_echo',
          'no TRACE to an upstream the gateway adds a credential for',
        );
      const value = await options.credential(ctx.tenant, credential);
      if (value === undefined)
        return deny(
          'credential_unavailable',
          'credential_unavailable',
          `the gateway could not read the secret ${credential.secret} for this upstream`,
        );
      // The pack's own value for that header, if it sent one, never reaches the upstream.
      headers[credential.header] = `${credential.prefix}${value}`;
    }
    const sent = { bytes: 0 };
    const received = { bytes: 0 };
    let status = 502;
    let latencyMs = 0;
    let answered = false;
    /** Why the request got no answer to pass on, unless its client left. */
    let failure: 'upstream_unreachable' | 'bad_upstream_response' = 'upstream_unreachable';
    const done = (): void => {
      const reason = answered ? 'forwarded' : left.signal.aborted ? 'client_gone' : failure;
      record(ctx, dest, method, started, {
        status: reason === 'client_gone' ? 499 : status,
        sent: sent.bytes,
        received: received.bytes,
        latencyMs,
        decision: 'permit',
        reason,
        // An upstream's error status is its answer's, as an HTTP client span names it.
        ...(reason === failure
          ? { errorType: reason }
          : answered && status >= 400
            ? { errorType: `${status}` }
            : {}),
        ...(verdict.upstream ? { upstream: verdict.upstream.name } : {}),
      });
    };
    // Gone while it was admitted: no upstream request at all.
    if (left.signal.aborted) {
      giveBack(verdict);
      return done();
    }
    const upstreamReq = httpRequest({
      host: verdict.address,
      port: dest.port,
      // The tenant's own pool: a connection kept alive for one tenant never carries another's request.
      agent: options.agents.of(ctx.tenant),
      method,
      path: `${url.pathname}${url.search}`,
      headers,
      setHost: false,
      timeout: options.connectTimeoutMs,
      signal: left.signal,
    });
    upstreamReq.once('timeout', () => upstreamReq.destroy());
    upstreamReq.once('error', (error) => {
      if (failure === 'bad_upstream_response') return;
      // Every connection of the tenant's in use (upstream-agents.ts): refused, none opened.
      if (error instanceof UpstreamConnectionsBusy) {
        // Refused before a byte was sent: a call the upstream never saw spends no budget.
        giveBack(verdict);
        const r = refusal('upstream_unreachable', 'upstream_connections_busy', {
          host: dest.host,
          port: dest.port,
          limit: error.limit,
          message: error.message,
          ...(verdict.upstream ? { upstream: verdict.upstream.name } : {}),
        });
        refused(ctx, dest, method, started, r);
        return reply(r);
      }
      if (!res.headersSent)
        reply(refusal('upstream_unreachable', 'connect_failed', { host: dest.host, port: dest.port }));
      else res.destroy();
      if (!answered) done();
    });
    /** An answer no HTTP server passes on: the upstream's fault, a 502 to this client. */
    const unusable = (): void => {
      failure = 'bad_upstream_response';
      upstreamReq.destroy();
      reply(refusal('upstream_unreachable', failure, { host: dest.host, port: dest.port }));
      done();
    };
    // A switch of protocols the gateway never asked for (it sends no Upgrade): without a listener,
    // Node's client ends the request with neither an answer nor an error, unanswered and unaudited.
    upstreamReq.once('upgrade', (_answer, socket: Socket) => {
      socket.destroy();
      unusable();
    });
    upstreamReq.once('response', (upstreamRes) => {
      latencyMs = Date.now() - started;
      try {
        res.writeHead(upstreamRes.statusCode ?? 502, endToEnd(upstreamRes.headers));
      } catch {
        // A status below 100, which Node's client reads: thrown here, it ended the whole gateway.
        return unusable();
      }
      answered = true;
      status = res.statusCode;
      upstreamReq.setTimeout(options.idleTimeoutMs);
      counted(upstreamRes, received);
      upstreamRes.pipe(res);
      res.once('close', done);
    });
    counted(req, sent);
    req.pipe(upstreamReq);
  }

  return server;
}
