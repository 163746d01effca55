// When a group commit to Redis (the rate limiter's decisions, the audit trail's appends) sends its
// next batch. Under load, everything asked for in one turn of the event loop shares one script call:
// the batch goes once the turn's I/O callbacks have run (setImmediate). A caller that comes alone
// (the last batch held one call and none is in flight) is sent once the current microtasks have
// run instead, without waiting for the turn's end: so the rate limit taken at the start of a
// request's handling is on its way to Redis while the request's remaining work runs in the same turn
// (router/mcp/router-server.ts), instead of after it.
//
// The rule adapts by itself: the first call of a busy turn may go alone, but the calls after it in
// that turn find it in flight and wait for the turn's end, so the next batch holds several and the
// turns after it batch again; a quiet spell of lone batches returns to sending at once.
// Measured with test/bench/router-peer.ts: docs/performance-router.md.

export class FlushTiming {
  #inFlight = 0;
  #lastBatch = 0;

  /** Runs `flush` for a batch that has just got its first caller. */
  schedule(flush: () => void): void {
    if (this.#inFlight === 0 && this.#lastBatch <= 1) queueMicrotask(flush);
    else setImmediate(flush);
  }

  /** A batch of `size` callers was sent: call `settled` once Redis answered it (or failed). */
  sent(size: number): () => void {
    this.#lastBatch = size;
    this.#inFlight += 1;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#inFlight -= 1;
    };
  }
}
