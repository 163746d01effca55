// Idle connections from the gateway to one tenant's egress bridge (kernel/wire/egress-tunnel.ts). The
// gateway dials in because a gVisor sandbox may create a host socket but not connect to one. The
// tenant is known by WHICH socket was dialed: its own socket directory, and an inode owned by its
// UID, opened without following links through the one checked connector every host process uses
// for tenant sockets (supervisor/client/runtime-socket.ts). Nothing the tenant sends names it.
// Bounded: at most `size` idle or dialing connections, and `maxInUse` in use and idle together;
// dials happen on the gateway's refresh pass and when an idle connection is taken, never in a loop
// of their own, and at most `dialsPerSecond` a second.
// Every process of the tenant's UID can connect to the bridge's socket as well, so the bridge uses a
// connection only after it proved to be the gateway's: the bridge's first line is a challenge, the
// pool answers with its signature over the nonce and the tenant (kernel/wire/egress-tunnel.ts).
import { sign, type KeyObject } from 'node:crypto';
import type { Socket } from 'node:net';
import {
  MAX_HANDSHAKE_BYTES,
  formatProof,
  parseChallenge,
  proofMessage,
  readLine,
} from '../kernel/wire/egress-tunnel.ts';
import { connectRuntimeSocket, RuntimeSocketTamperedError } from '../supervisor/client/runtime-socket.ts';

/** After an idle connection closed: soon enough for a client waiting on a fresh container's bridge,
 * for as long as a replacement takes (drain, create, start: a minute at most, 120 x 500 ms). A dial
 * to a socket path that is not there yet fails at once and costs a failed open. */
const REDIAL_DELAY_MS = 500;
const REDIAL_ATTEMPTS = 120;
/** A bridge sends its challenge as it accepts; one that has not after this is no bridge of ours. */
const CHALLENGE_TIMEOUT_MS = 10_000;

export interface TunnelTarget {
  tenant: string;
  socketPath: string;
  uid: number;
}

export interface PoolStats {
  /** Idle or still dialing and proving. */
  idle: number;
  /** Idle connections that proved themselves to the bridge: ready for a client. */
  ready: number;
  inUse: number;
  /** Dials refused because the path was not the tenant's own socket (a link, a file, another UID). */
  tampered: number;
  /** Tunnels taken into use since the pool started. */
  used: number;
  /** Connections closed because the bridge sent no challenge (an older runtime, or not a bridge). */
  unchallenged: number;
}

export interface PoolLogger {
  warn(fields: object, message: string): void;
}

export interface TunnelPoolOptions {
  target: TunnelTarget;
  size: number;
  maxInUse: number;
  /** New connections per second at most: a bridge that uses (or spoils) every connection at once
   * cannot make the gateway dial in a tight loop. */
  dialsPerSecond: number;
  /** The gateway's Ed25519 private key: it signs each bridge's challenge. */
  signingKey: KeyObject;
  /** A tunnel the bridge started to use: its first bytes are unread (the preamble line first). */
  onTunnel: (socket: Socket) => void;
  logger: PoolLogger;
}

export class TunnelPool {
  #target: TunnelTarget;
  readonly #options: TunnelPoolOptions;
  readonly #idle = new Set<Socket>();
  readonly #inUse = new Set<Socket>();
  readonly #connected = new WeakSet<Socket>();
  #tampered = 0;
  #used = 0;
  #unchallenged = 0;
  #closed = false;
  #lastTamper = '';
  #retry: NodeJS.Timeout | undefined;
  #windowTimer: NodeJS.Timeout | undefined;
  #windowStart = 0;
  #windowDials = 0;

  constructor(options: TunnelPoolOptions) {
    this.#options = options;
    this.#target = options.target;
  }

  get stats(): PoolStats {
    return {
      idle: this.#idle.size,
      ready: this.#ready(),
      inUse: this.#inUse.size,
      tampered: this.#tampered,
      used: this.#used,
      unchallenged: this.#unchallenged,
    };
  }

  /** The tenant's UID can change only with a new record; its connections go with the old one. */
  retarget(target: TunnelTarget): void {
    if (target.uid === this.#target.uid && target.socketPath === this.#target.socketPath) return;
    this.#destroyAll();
    this.#target = target;
  }

  /**
   * Dials until `size` connections are idle or dialing, with `maxInUse` at most in use and idle
   * together: every idle connection may be taken, so counting the ones in use only let a tenant
   * take `size - 1` more than `maxInUse` (each an upstream connection, a CONNECT's too).
   */
  topUp(): void {
    while (
      !this.#closed &&
      this.#idle.size < this.#options.size &&
      this.#idle.size + this.#inUse.size < this.#options.maxInUse
    ) {
      if (!this.#dial()) return;
    }
  }

  #dial(): boolean {
    const now = Date.now();
    if (now - this.#windowStart >= 1_000) {
      this.#windowStart = now;
      this.#windowDials = 0;
    }
    if (this.#windowDials >= this.#options.dialsPerSecond) {
      // Spent for this second: top up when the next one starts, or the pool would stay empty
      // (nothing else dials until a connection is taken, and none is left to take).
      this.#topUpAfterWindow(this.#windowStart + 1_000 - now);
      return false;
    }
    this.#windowDials += 1;
    const { tenant, socketPath, uid } = this.#target;
    let socket: Socket;
    try {
      socket = connectRuntimeSocket({ kind: 'unix', socketPath, uid });
    } catch (error) {
      if (error instanceof RuntimeSocketTamperedError) {
        // Under gVisor the gofer creates the host socket as root and then hands it to the tenant's
        // UID: a root-owned socket is "not ready yet"; anything else is the tenant's doing.
        if (error.found.kind === 'socket' && error.found.uid === 0) return false;
        this.#tampered += 1;
        if (error.message !== this.#lastTamper)
          this.#options.logger.warn(
            { tenant, err: error },
            'egress socket is not the tenant’s own: not dialed',
          );
        this.#lastTamper = error.message;
      }
      // Missing (no container, or one starting): the next pass tries again.
      return false;
    }
    this.#idle.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('connect', () => void this.#prove(socket, tenant));
    socket.once('close', () => {
      // An idle connection that was up closed: the container stopped or was replaced (a fresh
      // bridge is dialed soon, not only at the next pass). One that never proved itself (a stopped
      // container's stale socket, a bridge of another version) waits for the next pass.
      if (this.#idle.delete(socket) && this.#connected.has(socket)) this.#topUpSoon();
      this.#inUse.delete(socket);
    });
    return true;
  }

  /** Answers the bridge's challenge; the connection is idle, ready for a client, after that. */
  async #prove(socket: Socket, tenant: string): Promise<void> {
    const line = await readLine(socket, { maxBytes: MAX_HANDSHAKE_BYTES, timeoutMs: CHALLENGE_TIMEOUT_MS });
    if (socket.destroyed) return;
    const nonce = line === null ? null : parseChallenge(line);
    if (!nonce) {
      this.#unchallenged += 1;
      const message =
        'egress bridge sent no challenge: a runtime older than this gateway, or not a bridge; refused';
      if (message !== this.#lastTamper)
        this.#options.logger.warn({ tenant, got: line?.slice(0, 40) ?? null }, message);
      this.#lastTamper = message;
      socket.destroy();
      return;
    }
    socket.write(formatProof(sign(null, proofMessage(tenant, nonce), this.#options.signingKey)));
    this.#connected.add(socket);
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      if (!this.#idle.delete(socket)) return;
      this.#inUse.add(socket);
      this.#used += 1;
      this.#options.onTunnel(socket);
      this.topUp();
    });
    socket.resume();
  }

  #ready(): number {
    return [...this.#idle].filter((socket) => this.#connected.has(socket)).length;
  }

  #topUpAfterWindow(delayMs: number): void {
    if (this.#windowTimer || this.#closed) return;
    this.#windowTimer = setTimeout(() => {
      this.#windowTimer = undefined;
      this.topUp();
    }, delayMs);
    this.#windowTimer.unref();
  }

  /** Tops up every REDIAL_DELAY_MS until the pool is full, REDIAL_ATTEMPTS times at most. */
  #topUpSoon(attempts = REDIAL_ATTEMPTS): void {
    if (this.#retry || this.#closed) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.topUp();
      // Dials still under way count for the bound but not as served: a dial into a socket that is
      // not there yet (a container being replaced) fails after this check.
      if (this.#ready() < this.#options.size && attempts > 1) this.#topUpSoon(attempts - 1);
    }, REDIAL_DELAY_MS);
    this.#retry.unref();
  }

  #destroyAll(): void {
    for (const socket of [...this.#idle, ...this.#inUse]) socket.destroy();
    this.#idle.clear();
    this.#inUse.clear();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    clearTimeout(this.#windowTimer);
    this.#destroyAll();
  }
}
