// Node preload for the conformance suite (`NODE_OPTIONS=--import`): the suite's server mode sends no
// Authorization header, and /mcp answers every unauthenticated request with 401. This adds the bearer
// token from the environment to every `fetch` aimed at the router's origin, and to nothing else, so
// the token never travels to another host.
const token = process.env.BULKHEAD_CONFORMANCE_TOKEN;
const origin = process.env.BULKHEAD_CONFORMANCE_ORIGIN;
if (!token || !origin)
  throw new Error('BULKHEAD_CONFORMANCE_TOKEN and BULKHEAD_CONFORMANCE_ORIGIN are required');

const originalFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.origin !== origin) return originalFetch(input, init);
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  headers.set('authorization', `Bearer ${token}`);
  return originalFetch(input, { ...init, headers });
};
