// The harness of the gateway's proxy tests (test/unit/egress-proxy.test.ts): egress/proxy.ts
// driven directly, one loopback connection standing for one tunnel, and loopback upstreams that
// record what reaches them.
import { createServer as createHttpServer, type RequestListener } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { NameResolver } from '../../egress/name-lookup.ts';
import { createProxyServer } from '../../egress/proxy.ts';
import type { UpstreamEvent } from '../../egress/upstream-event.ts';
import { UpstreamAgents } from '../../egress/upstream-agents.ts';
import type { UpstreamBudget } from '../../egress/upstream-budget.ts';
import { EgressPolicySchema } from '../../kernel/tenant/egress-policy.ts';

const cleanup: (() => void)[] = [];

/** Runs `step` when the test ends (closeProxyHarness). */
export function atTestEnd(step: () => void): void {
  cleanup.push(step);
}

/** Closes every upstream and proxy the harness started: a test file's afterEach. */
export function closeProxyHarness(): void {
  for (const step of cleanup.splice(0)) step();
}

export function listening(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

/** A loopback HTTP upstream that answers with `handler`: its port. */
export async function httpUpstream(handler: RequestListener): Promise<number> {
  const server = createHttpServer(handler);
  const port = await listening(server);
  cleanup.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return port;
}

/**
 * A loopback upstream: answers each HTTP request with `ok` (`whole`), not at all (`none`), or with
 * its headers and a first chunk, the rest never (`started`).
 */
export async function upstream(answer: 'whole' | 'none' | 'started' = 'whole') {
  const sockets: Socket[] = [];
  let requests = 0;
  let onConnection: (() => void) | undefined;
  let onClose: (() => void) | undefined;
  const server = createServer((socket) => {
    sockets.push(socket);
    onConnection?.();
    socket.once('close', () => onClose?.());
    socket.on('data', (chunk) => {
      const count = chunk.toString('latin1').split('\r\n\r\n').length - 1;
      requests += count;
      for (let i = 0; i < count; i++)
        if (answer === 'whole') socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        else if (answer === 'started')
          socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n');
    });
  });
  const port = await listening(server);
  cleanup.push(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return {
    port,
    connections: () => sockets.length,
    requests: () => requests,
    connected: new Promise<void>((resolve) => (onConnection = resolve)),
    /** The first upstream connection closed. */
    closed: new Promise<void>((resolve) => (onClose = resolve)),
  };
}

/** A budget that admits every call, charged, and counts the calls given back. */
export function countingBudget(): UpstreamBudget & { refunds: number } {
  const counting = {
    refunds: 0,
    take: () => Promise.resolve({ admitted: true, limit: 9, remaining: 8, retryAfterMs: 0 }),
    refund: () => Promise.resolve(void (counting.refunds += 1)),
  };
  return counting;
}

/**
 * The proxy under a policy allowing `127.0.0.1:<port>` literally, as an operator may, as the
 * upstream `local`, and `hosts` tenant-wide; with `secret`, an upstream whose credential the gateway
 * adds, of that value. Tunnels come from tenant acme (`port`), or globex (`portOf`).
 */
export async function proxy(
  port: number,
  options: {
    budget?: UpstreamBudget;
    headersTimeoutMs?: number;
    secret?: string;
    names?: NameResolver;
    hosts?: string[];
  } = {},
) {
  const unmetered: UpstreamBudget = {
    take: () => Promise.resolve(undefined),
    refund: () => Promise.resolve(),
  };
  const { budget = unmetered, headersTimeoutMs, secret } = options;
  const credential = { header: 'authorization', secret: 'LOCAL_TOKEN', prefix: 'Bearer ' };
  const events: UpstreamEvent[] = [];
  let onEvent: (() => void) | undefined;
  const seen: Socket[] = [];
  const tenantOf = new WeakMap<Socket, string>();
  const agents = new UpstreamAgents({ maxSockets: 64 });
  const server = createProxyServer(
    {
      budget,
      names: options.names ?? new NameResolver(),
      credential: () => Promise.resolve(secret),
      agents,
      auditFull: () => false,
      connectTimeoutMs: 10_000,
      idleTimeoutMs: 3_600_000,
      ...(headersTimeoutMs === undefined ? {} : { headersTimeoutMs }),
      observe(event) {
        events.push(event);
        onEvent?.();
      },
      opened: () => undefined,
    },
    (socket) => {
      seen.push(socket);
      return {
        tenant: tenantOf.get(socket) ?? 'acme',
        pack: undefined,
        policy: EgressPolicySchema.parse({
          mode: 'allowlist',
          hosts: options.hosts ?? [],
          upstreams: {
            local: { hosts: [`127.0.0.1:${port}`], ...(secret === undefined ? {} : { credential }) },
          },
        }),
      };
    },
  );
  // Handed over as the gateway hands each tunnel (egress/gateway.ts), on a socket that, like the
  // tunnel pool's, ends when its peer ends; its tenant is the one whose listener it came through.
  const ports = new Map<string, number>();
  for (const tenant of ['acme', 'globex']) {
    const front = createServer((socket) => {
      tenantOf.set(socket, tenant);
      server.emit('connection', socket);
    });
    ports.set(tenant, await listening(front));
    cleanup.push(() => front.close());
  }
  cleanup.push(() => {
    server.closeAllConnections();
    agents.close();
  });
  return {
    port: ports.get('acme')!,
    portOf: (tenant: 'acme' | 'globex') => ports.get(tenant)!,
    events,
    observed: new Promise<void>((resolve) => (onEvent = resolve)),
    /** The proxy's side of the tunnel of the first request it saw. */
    side: () => seen[0],
  };
}

/** Writes `text` on a new connection to the proxy and resolves with all it answered until it closed. */
export function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}
