// The egress bridge (docs/security.md, "Egress"): the container has no network interface but `lo`,
// so a pack reaches a downstream API through an HTTP proxy on loopback that this bridge serves and
// relays to the egress gateway outside the container. The gateway dials in: it keeps a few idle
// connections to the bridge's unix socket in the tenant's socket directory (kernel/wire/egress-tunnel.ts),
// because a gVisor sandbox may create host sockets there but not connect to them. Each proxy client
// takes one idle connection, which starts with a line naming the pack whose port the client used.
// Every process of the tenant's UID can connect to that socket too, a pack included: a connection
// counts as the gateway's only once it answered this bridge's fresh challenge with the gateway's
// signature (kernel/wire/egress-tunnel.ts); until then it is never handed to a client.
//
// One loopback port per pack (the tenant-wide port, then one per enabled pack in order) lets the
// gateway apply per-pack allowlists. The packs of a tenant run as the tenant's one UID, so any of
// them can open any of these ports: per-pack entries are least privilege, not a boundary; the
// tenant's allowlist, budgets and audit are held outside, by the gateway.
import { randomBytes, verify, type KeyObject } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import {
  MAX_HANDSHAKE_BYTES,
  NONCE_BYTES,
  formatChallenge,
  formatPreamble,
  parseProof,
  proofMessage,
  readLine,
} from '../../kernel/wire/egress-tunnel.ts';

export interface EgressBridgeLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface EgressBridgeOptions {
  /** The unix socket the gateway dials (in the tenant's socket directory). */
  socketPath: string;
  /** The tenant this runtime serves: what the gateway's proof must name. */
  tenantId: string;
  /**
   * The egress gateway's Ed25519 public key (BULKHEAD_EGRESS_PUBLIC_KEY); without it no connection
   * can prove itself, so none is used and every proxy client gets the 503.
   */
  gatewayKey: KeyObject | undefined;
  /** The tenant-wide loopback port; pack i (0-based, in `packs` order) gets `port + 1 + i`. */
  port: number;
  packs: readonly string[];
  /** How long a proxy client waits for an idle gateway connection before a 503. */
  waitMs: number;
  /**
   * Idle gateway connections kept at most; more are closed (the gateway keeps its own pool small).
   * Connections still to prove themselves are bounded by the same number.
   */
  maxIdle: number;
  /** How long a new connection has to answer the challenge. */
  proofTimeoutMs?: number;
  logger: EgressBridgeLogger;
  /**
   * The `traceparent` of the pack's only call in flight, if it has exactly one and it is traced
   * (packs/pack-host.ts): named in the preamble of a connection the pack opens now, as a link.
   */
  linkOf?: (pack: string) => string | undefined;
}

export interface EgressBridge {
  /** Loopback port per pack name; the tenant-wide port under the key `''`. */
  ports: ReadonlyMap<string, number>;
  /** Connections to the gateway's socket closed because they did not prove themselves. */
  refused(): number;
  close(): Promise<void>;
}

/** The port pack `pack` (or the tenant-wide port for undefined) gets, or undefined for an unknown pack. */
export function egressPort(
  options: Pick<EgressBridgeOptions, 'port' | 'packs'>,
  pack?: string,
): number | undefined {
  if (pack === undefined) return options.port;
  const index = options.packs.indexOf(pack);
  return index < 0 ? undefined : options.port + 1 + index;
}

// Node's fetch behind NODE_USE_ENV_PROXY tunnels even an http:// URL through CONNECT, so the
// gateway would see neither its method nor its status, and a refusal would reach the pack as an
// opaque "fetch failed" instead of the gateway's 403. Preloaded into every node process of a pack:
// the same env-proxy dispatcher, asked to send http:// requests in absolute form (https:// still
// tunnels). A pack may undo it; it changes only how its own requests are framed, not what the
// gateway allows.
const NODE_PROXY_PRELOAD =
  'const k=Symbol.for("undici.globalDispatcher.1");const d=globalThis[k];' +
  'if(d?.constructor?.name==="EnvHttpProxyAgent")globalThis[k]=new d.constructor({proxyTunnel:false});';

/** The proxy variables ordinary HTTP clients read, for a process that uses `port`. */
export function egressProxyEnv(port: number): Record<string, string> {
  const url = `http://127.0.0.1:${port}`;
  return {
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    http_proxy: url,
    https_proxy: url,
    // Node's own fetch and http follow these variables only when told to.
    NODE_USE_ENV_PROXY: '1',
    NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(NODE_PROXY_PRELOAD)}`,
  };
}

const UNAVAILABLE_BODY = JSON.stringify({
  error: 'egress_unavailable',
  reason: 'no egress gateway connection: egress is off for this tenant, or the gateway is not running',
});
const UNAVAILABLE =
  'HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n' +
  `content-length: ${Buffer.byteLength(UNAVAILABLE_BODY)}\r\n\r\n${UNAVAILABLE_BODY}`;

function listen(server: Server, target: { path: string } | { port: number; host: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(target, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

const PROOF_TIMEOUT_MS = 5_000;
/** A refusal is logged at most this often for each reason (a pack may open connections in a loop). */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/** Why a connection's answer is no proof, or undefined when it is the gateway's. */
function proofFailure(options: EgressBridgeOptions, nonce: Buffer, line: string | null): string | undefined {
  if (line === null) return 'no answer to the challenge';
  const signature = parseProof(line);
  if (!signature)
    return line.startsWith('bulkhead-egress/2 ')
      ? 'a malformed proof'
      : 'not a proof: a gateway of another version, or not the gateway';
  if (!options.gatewayKey) return 'no gateway key configured (BULKHEAD_EGRESS_PUBLIC_KEY)';
  try {
    if (verify(null, proofMessage(options.tenantId, nonce), options.gatewayKey, signature)) return undefined;
  } catch {
    // A key of another type: no proof either.
  }
  return 'a signature that does not verify with the gateway key';
}

export async function startEgressBridge(options: EgressBridgeOptions): Promise<EgressBridge> {
  const idle: Socket[] = [];
  const waiting: ((socket: Socket | undefined) => void)[] = [];
  const proving = new Set<Socket>();
  let refused = 0;
  let closed = false;
  /** When each reason was last logged: one reason's flood (a pack's loop) hides no other. */
  const lastLogged = new Map<string, number>();

  if (!options.gatewayKey)
    options.logger.warn(
      { socket: options.socketPath },
      'no egress gateway key (BULKHEAD_EGRESS_PUBLIC_KEY): no gateway connection can prove itself, egress answers 503',
    );

  function refuse(socket: Socket, reason: string): void {
    socket.destroy();
    refused += 1;
    const now = Date.now();
    if (now - (lastLogged.get(reason) ?? -Infinity) < REFUSAL_LOG_INTERVAL_MS) return;
    lastLogged.set(reason, now);
    options.logger.warn(
      { reason, refused },
      'egress socket connection refused: it did not prove to be the gateway',
    );
  }

  /** The challenge, then the proof; only a connection that proved itself is used. */
  function challenge(socket: Socket): void {
    socket.on('error', () => socket.destroy());
    if (proving.size >= options.maxIdle)
      return refuse(socket, 'too many connections still to prove themselves');
    proving.add(socket);
    const nonce = randomBytes(NONCE_BYTES);
    socket.write(formatChallenge(nonce));
    void readLine(socket, {
      maxBytes: MAX_HANDSHAKE_BYTES,
      timeoutMs: options.proofTimeoutMs ?? PROOF_TIMEOUT_MS,
    }).then((line) => {
      proving.delete(socket);
      if (closed) return;
      const failure = proofFailure(options, nonce, line);
      if (failure !== undefined) return refuse(socket, failure);
      if (!socket.destroyed) accept(socket);
    });
  }

  function accept(socket: Socket): void {
    const waiter = waiting.shift();
    if (waiter) return waiter(socket);
    if (idle.length >= options.maxIdle) {
      socket.destroy();
      return;
    }
    idle.push(socket);
    socket.once('close', () => {
      const at = idle.indexOf(socket);
      if (at >= 0) idle.splice(at, 1);
    });
  }

  const gatewaySide = createServer(challenge);

  /** An idle gateway connection, waiting up to waitMs for one. */
  function take(): Promise<Socket | undefined> {
    const socket = idle.shift();
    if (socket) return Promise.resolve(socket);
    return new Promise((resolve) => {
      const done = (s: Socket | undefined): void => {
        clearTimeout(timer);
        const at = waiting.indexOf(done);
        if (at >= 0) waiting.splice(at, 1);
        resolve(s);
      };
      const timer = setTimeout(() => done(undefined), options.waitMs);
      waiting.push(done);
    });
  }

  const relaying = new Set<Socket>();

  function relay(client: Socket, pack: string | undefined): void {
    // Decided when the connection opens: the call in flight then is the one that may have opened it.
    const link = pack === undefined ? undefined : options.linkOf?.(pack);
    relaying.add(client);
    client.once('close', () => relaying.delete(client));
    client.pause();
    client.on('error', () => client.destroy());
    take().then(
      (tunnel) => {
        if (client.destroyed) return tunnel?.destroy();
        if (!tunnel) return client.end(UNAVAILABLE);
        tunnel.write(formatPreamble({ pack, link }));
        tunnel.on('close', () => client.destroy());
        client.on('close', () => tunnel.destroy());
        client.pipe(tunnel);
        tunnel.pipe(client);
        client.resume();
      },
      () => client.destroy(),
    );
  }

  // The gateway side first: a client must never find a port whose bridge cannot reach the gateway.
  await listen(gatewaySide, { path: options.socketPath });
  const ports = new Map<string, number>();
  const clientSides: Server[] = [];
  for (const pack of [undefined, ...options.packs]) {
    const port = egressPort(options, pack)!;
    // No Nagle delay on loopback: a proxied answer may arrive in several small writes.
    const server = createServer({ noDelay: true }, (client) => relay(client, pack));
    await listen(server, { port, host: '127.0.0.1' });
    clientSides.push(server);
    ports.set(pack ?? '', port);
  }
  options.logger.info(
    { socket: options.socketPath, ports: Object.fromEntries(ports) },
    'egress bridge listening',
  );

  return {
    ports,
    refused: () => refused,
    async close() {
      closed = true;
      for (const socket of [...idle.splice(0), ...proving]) socket.destroy();
      for (const waiter of waiting.splice(0)) waiter(undefined);
      // Connections in use end too: closing waits for none of them.
      for (const client of relaying) client.destroy();
      await Promise.all([gatewaySide, ...clientSides].map((s) => new Promise((resolve) => s.close(resolve))));
    },
  };
}
