// The most a tenant runtime's answer to one request may hold, on both sides of the socket: the
// router refuses a longer one (router/dispatch/bounded-fetch.ts, its ceiling), and the runtime holds
// no more than this of an answer it must send whole (runtime-image/src/traced-answer.ts). Chosen
// for the router's memory (what a cut-off answer costs it), below the records tools' derived cap.
export const MAX_RUNTIME_ANSWER_BYTES = 4 * 1024 * 1024;

/**
 * The most notifications a runtime relays in one call's answer, however small each is
 * (runtime-image/src/packs/pack-relay.ts): each costs far more than its parameters' length on its
 * way out (a promise, its event on the stream, the stream's queue entry), so 1 MiB of tiny ones was
 * tens of thousands of them. Half the router's default bound on an answer's events (1,000), which
 * leaves room for the answer; that bound (BULKHEAD_RUNTIME_MAX_STREAM_MESSAGES, router/config.ts)
 * may not be set at or below it, or a pack relaying its share would have its answer taken for a
 * broken read bound and its runtime recycled.
 */
export const MAX_RELAYED_NOTIFICATIONS_PER_CALL = 500;
