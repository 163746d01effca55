// The keep-alive connections of forwarded plain-HTTP requests (egress/proxy.ts), one pool per
// tenant. Node's global agent keeps one pool for the whole process, keyed by address and port only:
// a connection a tenant's request opened to an upstream was handed to the next request for that
// address, whichever tenant sent it. The upstream then saw two tenants as one client (state it ties
// to a connection, set up by one, was the other's), and whatever one tenant's exchange left unread
// on the connection was read as the answer to the other's request. A tenant's pool goes with it
// when the gateway stops serving it (egress/gateway.ts).
import { Agent } from 'node:http';

export class UpstreamAgents {
  readonly #agents = new Map<string, Agent>();

  /** The agent of `tenant`'s upstream requests: its connections serve no other tenant. */
  of(tenant: string): Agent {
    let agent = this.#agents.get(tenant);
    if (!agent) {
      // The global agent's settings (Node 20 and later), one pool per tenant instead of one in all.
      agent = new Agent({ keepAlive: true, scheduling: 'lifo', timeout: 5_000 });
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
