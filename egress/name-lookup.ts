// Resolving an allowed host name for admission (egress/admission.ts), with a deadline and a bound
// per tenant. The gateway resolves with node's `lookup`, getaddrinfo, so /etc/hosts and
// nsswitch.conf apply as they do to everything else on the host (c-ares' `resolve` would skip both).
// getaddrinfo runs on libuv's threadpool, which is the whole process's, and libuv runs at most half
// the pool's threads, rounded up, on such slow I/O (2 of the default 4: libuv's src/threadpool.c),
// keeping the rest for fs and crypto. getaddrinfo has no timeout of its own: a name whose resolver
// never answers holds its thread for the resolver's timeouts times its attempts, and two of them
// stall every other lookup of every tenant this one gateway serves. Hence:
// - a deadline (LOOKUP_DEADLINE_MS): the request is answered then, whatever the resolver does;
// - at most MAX_LOOKUPS_PER_TENANT lookup of one tenant in flight, so one tenant's slow names
//   cannot hold every lookup thread. A slot comes back when its lookup settles, not at the
//   deadline: a timed-out getaddrinfo still holds its thread until it returns.
// Past the bound a request waits in a short queue rather than being refused at once: a pack's
// ordinary burst (several requests started together, each lookup a few milliseconds) keeps working
// as before. The deadline covers the wait and the lookup together; a full queue is refused.
// Per tenant, not per pack: a slot per pack would let a tenant with two packs hold both lookup
// threads, and the pack a request names is not always a boundary (under gVisor a tenant's packs may
// use any pack's bridge port: runtime-image/src/egress-bridge.ts). So one pack's hanging names may
// delay its sibling packs' lookups, never another tenant's.
import { lookup as nodeLookup } from 'node:dns/promises';
import { ConcurrencyGate, type Release } from '../kernel/process/concurrency-gate.ts';

/** `dns.promises.lookup` with `all: true`, the port tests replace. */
export type LookupAll = (host: string, options: { all: true }) => Promise<readonly { address: string }[]>;

/** How long a request waits for its name (a slot, then the lookup) before it is refused. */
export const LOOKUP_DEADLINE_MS = 5_000;

/**
 * Lookups of one tenant in flight at once: one, below getaddrinfo's 2 threads (of the default pool
 * of 4). Lookups answer in milliseconds, so a tenant's burst waits little in line; and it takes as
 * many tenants as getaddrinfo has threads, all with hanging names, to hold them all, a number that
 * grows with UV_THREADPOOL_SIZE (a bound of half the threads would leave it at two).
 */
export const MAX_LOOKUPS_PER_TENANT = 1;
/** Requests of one tenant waiting for a lookup slot; past it a request is refused at once. */
export const MAX_WAITING_LOOKUPS_PER_TENANT = 32;

export type Resolution =
  | { ok: true; addresses: readonly { address: string }[] }
  | {
      ok: false;
      reason: 'name_not_resolved' | 'name_resolution_timeout' | 'name_resolution_busy';
      message: string;
    };

export interface NameResolverOptions {
  lookup?: LookupAll;
  deadlineMs?: number;
  maxPerTenant?: number;
  maxWaitingPerTenant?: number;
}

export class NameResolver {
  readonly #lookup: LookupAll;
  readonly #deadlineMs: number;
  readonly #max: number;
  readonly #maxWaiting: number;
  /** Each tenant's lookup slots and their waiting line (kernel/process/concurrency-gate.ts). */
  readonly #gate: ConcurrencyGate;

  constructor(options: NameResolverOptions = {}) {
    this.#lookup = options.lookup ?? ((host, o) => nodeLookup(host, o));
    this.#deadlineMs = options.deadlineMs ?? LOOKUP_DEADLINE_MS;
    this.#max = options.maxPerTenant ?? MAX_LOOKUPS_PER_TENANT;
    this.#maxWaiting = options.maxWaitingPerTenant ?? MAX_WAITING_LOOKUPS_PER_TENANT;
    // A request waits for a slot at most the whole deadline; its lookup gets what is left of it.
    this.#gate = new ConcurrencyGate({
      maxInFlight: this.#max,
      maxQueued: this.#maxWaiting,
      maxWaitMs: this.#deadlineMs,
    });
  }

  /** Lookups of `tenant` in flight and requests waiting for one (tests, diagnostics). */
  load(tenant: string): { inFlight: number; waiting: number } {
    const { inFlight, queued } = this.#gate.load(tenant);
    return { inFlight, waiting: queued };
  }

  /** The addresses `host` resolves to for a request of `tenant`, or why there are none. */
  async resolve(tenant: string, host: string): Promise<Resolution> {
    const started = Date.now();
    const { inFlight, waiting } = this.load(tenant);
    if (inFlight >= this.#max && waiting >= this.#maxWaiting)
      return {
        ok: false,
        reason: 'name_resolution_busy',
        message: `this tenant already has ${this.#max} host names resolving and ${this.#maxWaiting} requests waiting for them; retry later`,
      };
    let release: Release;
    try {
      release = await this.#gate.acquire(tenant);
    } catch {
      return this.#timedOut();
    }
    // The slot comes back when the lookup settles, not at the deadline: a lookup past its deadline
    // still holds its thread.
    const looking = Promise.resolve()
      .then(() => this.#lookup(host, { all: true }))
      .finally(release);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), Math.max(0, this.#deadlineMs - (Date.now() - started)));
    });
    try {
      const addresses = await Promise.race([looking, deadline]);
      return addresses === undefined ? this.#timedOut() : { ok: true, addresses };
    } catch {
      return { ok: false, reason: 'name_not_resolved', message: 'the host name did not resolve' };
    } finally {
      clearTimeout(timer);
      looking.catch(() => undefined);
    }
  }

  #timedOut(): Resolution {
    return {
      ok: false,
      reason: 'name_resolution_timeout',
      message: `the host name did not resolve within ${this.#deadlineMs} ms`,
    };
  }
}
