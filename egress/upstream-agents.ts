// The keep-alive connections of forwarded plain-HTTP requests (egress/proxy.ts), one pool per
// tenant. Node's global agent keeps one pool for the whole process, keyed by address and port only:
// a connection a tenant's request opened to an upstream was handed to the next request for that
// address, whichever tenant sent it. The upstream then saw two tenants as one client (state it ties
// to a connection, set up by one, was the other's), and whatever one tenant's exchange left unread
// on the connection was read as the answer to the other's request. A tenant's pool goes with it
// when the gateway stops serving it (egress/gateway.ts).
// Each pool holds at most `maxSockets` connections, idle ones included: the gateway is one process
// for every tenant, and without a bound a tenant allowed many addresses (a wildcard rule, or many
// ports) kept one idle connection, and its file descriptor, per address it reached in the last 5 s.
// Node's own `maxTotalSockets` is no such bound: it queues a request past it without a deadline,
// and a connection freed while another origin's request waits opens that one's before the freed
// one is closed.
import { Agent, type ClientRequestArgs } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** A tenant's request past its bound, every connection in use: refused (egress/proxy.ts). */
export class UpstreamConnectionsBusy extends Error {
  readonly limit: number;

  constructor(limit: number) {
    super(`all ${limit} upstream connections of this tenant are in use`);
    this.limit = limit;
  }
}

class BoundedAgent extends Agent {
  readonly #max: number;
  /** Every connection this agent opened and that is not closed yet, idle or in use. */
  readonly #open = new Set<Duplex>();

  constructor(max: number) {
    // The global agent's settings (Node 20 and later), one pool per tenant instead of one in all.
    super({ keepAlive: true, scheduling: 'lifo', timeout: 5_000 });
    this.#max = max;
  }

  override createConnection(
    options: ClientRequestArgs,
    created: (error: Error | null, socket: Duplex) => void,
  ): Duplex | undefined {
    if (this.#open.size >= this.#max && !this.#closeIdle()) {
      created(new UpstreamConnectionsBusy(this.#max), undefined as unknown as Duplex);
      return undefined;
    }
    const socket = super.createConnection(options) as Duplex;
    this.#open.add(socket);
    socket.once('close', () => this.#open.delete(socket));
    return socket;
  }

  /**
   * Closes one idle connection to make room, if there is one: it was only kept in case. Its file
   * descriptor is closed at once (its 'close' event comes later), so it no longer counts. The first
   * one not yet closed of its address: the agent skips closed ones at the front of a list.
   */
  #closeIdle(): boolean {
    for (const idle of Object.values(this.freeSockets)) {
      const socket: Socket | undefined = idle?.find((s) => !s.destroyed);
      if (!socket) continue;
      this.#open.delete(socket);
      socket.destroy();
      return true;
    }
    return false;
  }
}

export class UpstreamAgents {
  readonly #agents = new Map<string, Agent>();
  readonly #maxSockets: number;

  constructor(options: { maxSockets: number }) {
    this.#maxSockets = options.maxSockets;
  }

  /** The agent of `tenant`'s upstream requests: its connections serve no other tenant. */
  of(tenant: string): Agent {
    let agent = this.#agents.get(tenant);
    if (!agent) {
      agent = new BoundedAgent(this.#maxSockets);
      this.#agents.set(tenant, agent);
    }
    return agent;
  }

  /** Ends `tenant`'s connections, idle or in use: egress off, suspended or gone. */
  drop(tenant: string): void {
    this.#agents.get(tenant)?.destroy();
    this.#agents.delete(tenant);
  }

  close(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }
}
