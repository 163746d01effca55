// How long an idle keep-alive connection between a router and a tenant runtime lives, on each side.
// The router (the client) must always be the side that ends an idle connection: when the runtime
// ends one at the moment the router writes its next request on it, that call fails as interrupted
// (the router cannot know whether it ran) although nothing ran. Node's server default is 5 s, and
// undici trusts the server's `Keep-Alive: timeout=5` hint minus a margin; a router whose event loop
// stalls for seconds under load (measured: 3.5 s in the 1,000-agent soak) reads the runtime's close
// too late and writes into it. So the runtime keeps idle connections far longer than the router does.
// The same holds between an agent and the router's public listener: agents' HTTP clients end idle
// connections after a few seconds (undici: 4 s), so the router keeps them a minute.
export const KEEP_ALIVE = {
  /** The router's public listener ends a connection idle this long (router/router.ts). */
  listenerIdleMs: 65_000,
  /** The router's agent ends a connection idle this long (router/dispatch/bounded-fetch.ts). */
  routerIdleMs: 4_000,
  /** The runtime's server ends a connection idle this long (runtime-image/src/server.ts). */
  runtimeIdleMs: 60_000,
} as const;
