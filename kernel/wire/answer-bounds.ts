// The most a tenant runtime's answer to one request may hold, on both sides of the socket: the
// router refuses a longer one (router/dispatch/bounded-fetch.ts, its ceiling), and the runtime holds
// no more than this of an answer it must send whole (runtime-image/src/traced-answer.ts). Chosen
// for the router's memory (what a cut-off answer costs it), below the records tools' derived cap.
export const MAX_RUNTIME_ANSWER_BYTES = 4 * 1024 * 1024;
