// When a group commit to Redis (the rate limiter's decisions, the audit trail's appends) sends a
// batch that has just got its first caller. Under load, everything asked for in one turn of the
// event loop shares one script call: the batch goes once the turn's I/O callbacks have run
// (setImmediate). A caller that says it is alone (a request whose client is the only one the router
// hears from: router/http/connection-activity.ts) is sent once the current microtasks have run
// instead, without waiting for the turn's end: so the rate limit taken as a request reaches the SDK
// is on its way to Redis while the SDK's work for that request runs in the same turn, instead of
// after it (router/mcp/router-server.ts, admitEarly). Measured with test/bench/router-peer.ts and
// test/bench/observability-overhead.ts: docs/performance-one-connection.md.

/** How a caller of a group commit asks: `alone` when no other caller is likely to share its batch. */
export interface FlushRequest {
  alone?: boolean | undefined;
}

/** Runs `flush` for a batch whose first caller asked as `request` says. */
export function scheduleFlush(flush: () => void, request: FlushRequest = {}): void {
  if (request.alone === true) queueMicrotask(flush);
  else setImmediate(flush);
}
