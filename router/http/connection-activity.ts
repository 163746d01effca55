// Whether the router is serving one client and nobody else right now: the signal that lets a
// request's Redis steps (its rate-limit take, its audit append) go at once instead of waiting for the
// turn's end to share a batch with other requests' (kernel/redis/flush-timing.ts).
//
// What counts is requests in progress together, not how many connections there are. The router's
// count of requests in progress alone was tried as that signal: under load a request was often the
// only one parsed while others waited in their sockets' buffers; a third of the batches went alone,
// and the router answered fewer calls per second (docs/performance-one-connection.md). So a request
// is one among others while another connection's request is in progress, and for QUIET_MS after the
// router last saw two in progress together: under load that happens on nearly every request.
// Requests one at a time are alone whichever connections they come on: one client back to back, a
// client that opens a connection per request, or two that take turns (the warm-write benchmark's
// paths, test/bench/warm-writes.ts). A request in progress for longer than QUIET_MS (a stream that
// stays open, `subscriptions/listen`) no longer counts, or one client's open stream would make its
// own calls one among others for good. A wrong answer costs either a round trip not shared or a
// turn's wait, never correctness. Behind a proxy the signal holds too: the router speaks HTTP/1.1,
// one request at a time per connection, so requests in flight together come on connections of their
// own.

/**
 * How long after two requests were last seen in progress together a request is still taken as one
 * among others, and how long a request counts as in progress at most. Not shorter: under load the
 * event loop stalls for several milliseconds at a time (a collection, a turn of many requests), and
 * with a 5 ms window the first requests after a stall went alone, about 3 % of them in
 * test/bench/router-peer.ts's 50 connections, which then answered fewer calls per second
 * (docs/performance-one-connection.md); with 50 ms, 5 in 35,000.
 */
export const QUIET_MS = 50;

export class ConnectionActivity {
  readonly #quietMs: number;
  /** Each connection with a request in progress, and when that request came. */
  readonly #inProgress = new Map<object, number>();
  /** When a request last came while another connection's was in progress. */
  #togetherAt = Number.NEGATIVE_INFINITY;

  constructor(options: { quietMs?: number | undefined } = {}) {
    this.#quietMs = options.quietMs ?? QUIET_MS;
  }

  /**
   * A request came on `connection` (the request's socket). Call what this returns once its answer is
   * done (or abandoned).
   */
  arrived(connection: object, at: number = performance.now()): () => void {
    if (this.#othersInProgress(connection, at)) this.#togetherAt = at;
    this.#inProgress.set(connection, at);
    return doneWith(this.#inProgress, connection, at);
  }

  /** Asks, whenever called, whether `connection`'s request is alone (quietBut). */
  signalFor(connection: object): () => boolean {
    return () => this.quietBut(connection);
  }

  /**
   * Whether `connection`'s request is alone: no other connection's request is in progress, and none
   * was together with another in the last quietMs.
   */
  quietBut(connection: object, at: number = performance.now()): boolean {
    return at - this.#togetherAt > this.#quietMs && !this.#othersInProgress(connection, at);
  }

  /** Whether another connection has had a request in progress since no longer than quietMs ago. */
  #othersInProgress(connection: object, at: number): boolean {
    for (const [other, since] of this.#inProgress)
      if (other !== connection && at - since <= this.#quietMs) return true;
    return false;
  }
}

/** Ends `connection`'s request that came `at`, unless a later request on it has replaced it. */
function doneWith(inProgress: Map<object, number>, connection: object, at: number): () => void {
  return () => {
    if (inProgress.get(connection) === at) inProgress.delete(connection);
  };
}
