// Benchmark (not a test): the router beside its peer, the bare SDK v2 server (`createMcpHandler`,
// stateless, no authentication) answering the same shared tool, started here in the same process as
// the router. One 2026-07-28 `tools/call whoami` request is captured from a real SDK client and
// replayed over HTTP keep-alive connections: with N connections (calls/s, and the router's rate
// over the peer's) and with one connection (p50, the router's added latency). Both servers answer
// in this process and under the same load generator, so the ratio holds on a busy machine; absolute
// figures do not. With one connection, beside them a floor: the same bare server, its tools/call
// awaiting two Redis round trips (an empty script before the tool, another after it:
// redis-floor.ts), as the router awaits its rate-limit take and its audit record. One call at a
// time, a server that waits for each control before going on cannot answer sooner than that floor;
// the router, its client alone, overlaps both waits with the SDK's work
// (docs/performance-one-connection.md), so beside it a second floor overlaps them the same way: the
// first starts as the request reaches the SDK, the answer waits for the second while the SDK builds
// it, both sent at once. (Not at 50 connections: there the floor answered more calls per second
// than the bare SDK, 1.14 to 1.16 times, since the calls waiting on Redis are answered together; it
// bounds nothing.) Asserts nothing.
//   node test/bench/router-peer.ts [--seconds 5] [--connections 50] [--sequential 1000] [--rounds 3]
//     (the rounds rounded up to a multiple of the lanes measured, so that each starts as many)
//     [--pause-ms N]    a pause between the sequential calls (default none: back to back). Back to
//                       back the bare server's process hardly idles; a server waiting on Redis idles
//                       within every call. With a pause every server idles between calls.
//     [--connection-per-call]  the sequential calls each on a new connection (`Connection: close`),
//                       as a client that keeps none alive
//     [--before DIR]    also the router of another checkout (e.g. /work/main), in the same rounds
//     [--redis-url URL]  also the same router on the same Redis reached another way: the stack's
//                       is BULKHEAD_REDIS_URL, by default the unix socket of the Redis .ci/setup.sh
//                       starts, so redis://127.0.0.1:6379 adds the same router over loopback TCP
//     [--profile DIR]   CPU profiles of the last round's peer and router phases alone, and of the
//                       overlapped floor's and the router's calls on one connection
//                       (DIR/peer.cpuprofile, DIR/router.cpuprofile, DIR/overlapped-1.cpuprofile,
//                       DIR/router-1.cpuprofile, each with the calls it answered:
//                       `node test/bench/profile-summary.ts DIR/router.cpuprofile --calls N` gives µs per call)
import { median, printFigures } from './figures.ts';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeFile, mkdir } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { parseRedisUrl, redactRedisUrl } from '../../kernel/redis/connection.ts';
import { Pool } from 'undici';
import { SHARED_TOOLS } from '../../kernel/packs/manifest.ts';
import { wireTool } from '../../kernel/tools/tool-definition.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { whoami } from '../../router/tools/shared/whoami.ts';
import type { Principal } from '../../router/identity/principal.ts';
import { startTestStack, TEST_QUOTAS } from '../support/stack.ts';
import { agentPrincipal } from '../support/tenant.ts';
import { captureRequests, type CapturedRequest } from '../support/mcp-client.ts';
import { REDIS_URL } from '../support/namespace.ts';
import { groupedRoundTrip, type RoundTrip } from './redis-floor.ts';
import { AnswerHold } from '../../router/request/answer-hold.ts';
import { serveBareSdk, type BareSdkServer } from './bare-sdk-server.ts';
import type { startRouter } from '../../router/router.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: {
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    sequential: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    'pause-ms': { type: 'string', default: '0' },
    profile: { type: 'string' },
    before: { type: 'string' },
    'redis-url': { type: 'string' },
    'connection-per-call': { type: 'boolean', default: false },
  },
});
const ROUNDS = Math.min(Math.max(Number(values.rounds), 1), 10);
const SECONDS = Math.min(Math.max(Number(values.seconds), 1), 60);
const CONNECTIONS = Math.min(Math.max(Number(values.connections), 1), 200);
const SEQUENTIAL = Math.min(Math.max(Number(values.sequential), 50), 20_000);
const PAUSE_MS = Math.min(Math.max(Number(values['pause-ms']), 0), 1_000);
/** The one-at-a-time calls each on a connection of its own, as a client that keeps none alive. */
const RESET = values['connection-per-call'];

/** `startRouter` from another checkout's own modules (--before). */
async function startRouterOf(dir: string): Promise<typeof startRouter> {
  const url = pathToFileURL(resolve(dir, 'router/router.ts')).href;
  return ((await import(url)) as { startRouter: typeof startRouter }).startRouter;
}

/**
 * Two Redis round trips awaited one after the other around the tool, the least the router's controls
 * could cost (test/bench/redis-floor.ts): one where the router takes the call's rate-limit budgets,
 * one where it appends the audit record.
 */
interface RoundTrips {
  before: RoundTrip;
  after: RoundTrip;
}

/** The shared tool whoami as the bare servers answer it: its wire definition, and its answer. */
function whoamiTool(principal: Principal) {
  const definition = SHARED_TOOLS.find((def) => def.name === 'whoami');
  if (!definition) throw new Error('whoami is not in the manifest');
  const answer = () =>
    whoami(
      principal,
      {},
      { tenant: undefined, tools: () => [], idempotencyWindowMs: 0, rateLimits: () => Promise.resolve([]) },
    );
  return { wire: wireTool(definition), answer };
}

/**
 * The bare peer: the SDK's own handler, a fresh server per request, the same tool and schema; with
 * `roundTrips`, the floor: the same, its tool call awaiting them.
 */
async function startPeer(principal: Principal, roundTrips?: RoundTrips): Promise<BareSdkServer> {
  const { wire, answer } = whoamiTool(principal);
  return serveBareSdk('peer', (server) => {
    server.setRequestHandler('tools/list', () => ({ tools: [wire] }));
    server.setRequestHandler(
      'tools/call',
      roundTrips
        ? async () => {
            await roundTrips.before();
            const result = await answer();
            await roundTrips.after();
            return result;
          }
        : answer,
    );
  });
}

/**
 * The floor overlapped as the router overlaps its controls for a lone client
 * (docs/performance-one-connection.md):
 * the first round trip starts as the request is handed to the SDK and the tool waits for it; the
 * second starts as the tool answers, and the response waits for it while the SDK builds it. Both go
 * at once, not at the turn's end.
 */
async function startOverlappedFloor(principal: Principal, roundTrips: RoundTrips): Promise<BareSdkServer> {
  const { wire, answer } = whoamiTool(principal);
  // Per request: its first round trip, and its answer held as the router holds one (AnswerHold).
  const waits = new WeakMap<Request, { before: Promise<void>; answer: AnswerHold }>();
  return serveBareSdk(
    'overlapped floor',
    (server, request) => {
      const wait = request && waits.get(request);
      server.setRequestHandler('tools/list', () => ({ tools: [wire] }));
      server.setRequestHandler('tools/call', async () => {
        await wait?.before;
        const result = await answer();
        wait?.answer.add(roundTrips.after());
        return result;
      });
    },
    async (request, respond) => {
      const wait = { before: roundTrips.before(), answer: new AnswerHold() };
      waits.set(request, wait);
      return wait.answer.hold(await respond());
    },
  );
}

const FLOOR = 'floor (bare SDK, 2 Redis round trips)';
const OVERLAPPED = 'floor overlapped (the same round trips, overlapping the SDK)';

/** One real SDK client call, its request captured (headers and body) to replay byte for byte. */
async function capture(url: string, token: string | undefined): Promise<CapturedRequest> {
  const seen = await captureRequests(url, token, async (client) => {
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    if (result.isError) throw new Error(`whoami failed on ${url}`);
  });
  const call = seen.findLast((c) => c.body.includes('"tools/call"'));
  if (!call) throw new Error('no tools/call captured');
  return call;
}

/** Calls answered with a tool error (e.g. `state_unavailable` when Redis is slower than its deadline). */
const toolErrors = new Map<string, number>();

/** One call; false when it was answered with a tool error (counted, not timed as a success). */
async function once(pool: Pool, path: string, request: CapturedRequest, reset = false): Promise<boolean> {
  const { headers, body } = request;
  const res = await pool.request({ path, method: 'POST', headers, body, reset });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`call answered ${res.statusCode}: ${text.slice(0, 200)}`);
  if (text.includes('"acting_alone"') && !text.includes('"isError":true')) return true;
  const code = /"code":"([a-z_]+)"/.exec(text)?.[1] ?? text.slice(0, 80);
  toolErrors.set(code, (toolErrors.get(code) ?? 0) + 1);
  return false;
}

/**
 * `run`, its CPU profiled (this process: server and load generator alike) into DIR/NAME.cpuprofile;
 * `covered` says how many calls the profile holds, from what `run` returned.
 */
async function profiled<T>(
  name: string,
  dir: string | undefined,
  run: () => Promise<T>,
  covered: (result: T) => string,
): Promise<T> {
  if (dir === undefined) return run();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  const result = await run();
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}/${name}.cpuprofile`, JSON.stringify(profile));
  console.log(`profile: ${dir}/${name}.cpuprofile, ${covered(result)} (--calls for profile-summary.ts)`);
  return result;
}

/** The calls a throughput phase's profile holds, from its calls per second: its warm-up included. */
const throughputCalls = (rate: number): string =>
  `${Math.round(rate * SECONDS) + CONNECTIONS * 4} calls with the warm-up`;

/** `connections` callers, each sending its next request as soon as the last is answered. */
async function throughput(url: string, request: CapturedRequest, connections: number): Promise<number> {
  const { origin, pathname } = new URL(url);
  const pool = new Pool(origin, { connections, pipelining: 1 });
  let done = 0;
  for (let i = 0; i < connections * 4; i++) await once(pool, pathname, request); // warm-up
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) {
        if (await once(pool, pathname, request)) done += 1;
      }
    }),
  );
  const rate = (done * 1000) / (performance.now() - started);
  await pool.close();
  return rate;
}

/** `n` calls on one connection, one at a time; with `profile`, CPU-profiled as DIR/NAME.cpuprofile. */
async function latencySamples(
  url: string,
  request: CapturedRequest,
  n: number,
  profile?: { name: string; dir: string | undefined },
): Promise<number[]> {
  const { origin, pathname } = new URL(url);
  const pool = new Pool(origin, { connections: 1 });
  for (let i = 0; i < 100; i++) await once(pool, pathname, request);
  const samples: number[] = [];
  const calls = async (): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await once(pool, pathname, request, RESET);
      samples.push(performance.now() - t0);
      if (PAUSE_MS > 0) await sleep(PAUSE_MS);
    }
  };
  await (profile ? profiled(profile.name, profile.dir, calls, () => `${n} calls`) : calls());
  await pool.close();
  return samples;
}

const printLatency = (label: string, samples: number[]): number =>
  printFigures(label, samples, { digits: 3, labelWidth: 52 });

/** One connection's calls, one at a time, printed; the p50. */
async function latency(
  label: string,
  url: string,
  request: CapturedRequest,
  profile?: { name: string; dir: string | undefined },
): Promise<number> {
  return printLatency(label, await latencySamples(url, request, SEQUENTIAL, profile));
}

async function main(): Promise<void> {
  const stack = await startTestStack('bench-peer');
  await stack.registry.create({
    id: 'alpha',
    plan: planByName('small'),
    isolation: 'runc',
    quotas: TEST_QUOTAS,
  });
  const token = await stack.agentToken('alpha');
  const router = await capture(stack.mcpUrl, token);
  const principal = agentPrincipal('alpha', { agent: 'bench', scopes: ['records:read'], issuer: 'bench' });
  const peer = await startPeer(principal);
  const floorRedis = new Redis(parseRedisUrl(REDIS_URL));
  const floor = await startPeer(principal, {
    before: await groupedRoundTrip(floorRedis),
    after: await groupedRoundTrip(floorRedis),
  });
  const overlapped = await startOverlappedFloor(principal, {
    before: await groupedRoundTrip(floorRedis, { alone: true }),
    after: await groupedRoundTrip(floorRedis, { alone: true }),
  });
  // The same router with every token verified in full (the verification cache off).
  const uncached = await stack.replica({ tokenCacheSeconds: 0 });
  // --before: another checkout's router (e.g. main's), its own modules, on the same stack.
  const before =
    values.before === undefined ? undefined : await stack.replica({}, await startRouterOf(values.before));
  // --redis-url: the same router on the stack's Redis (its database) reached another way.
  const otherUrl = values['redis-url'];
  const { installation } = stack.ns;
  const otherRedis =
    otherUrl === undefined ? undefined : { ...parseRedisUrl(otherUrl), db: installation.redis.db };
  const onOther =
    otherRedis && (await stack.replica({ installation: { ...installation, redis: otherRedis } }));
  const mcpOf = (running: { url: string }): string => new URL('/mcp', running.url).href;
  const variants = [
    { label: 'router', url: stack.mcpUrl },
    { label: 'router, token cache off', url: mcpOf(uncached) },
    ...(before ? [{ label: `before (${values.before})`, url: mcpOf(before) }] : []),
    ...(onOther ? [{ label: `router, Redis at ${redactRedisUrl(otherUrl!)}`, url: mcpOf(onOther) }] : []),
  ];
  try {
    const bare = await capture(peer.url, undefined);
    const floorCall = await capture(floor.url, undefined);
    const overlappedCall = await capture(overlapped.url, undefined);
    console.log(
      `router-peer benchmark: whoami (2026-07-28), Node ${process.version}, ${CONNECTIONS} connections for ` +
        `${SECONDS} s each, ${SEQUENTIAL} sequential calls${RESET ? ', each on a new connection' : ''}; ` +
        `router = authenticated, audited, rate limited, Redis at ${redactRedisUrl(REDIS_URL)}`,
    );
    // Every variant in every round, so a burst of load from elsewhere on the machine hits all, each
    // round starting one lane further on: in a fixed order, of two routers compared, the one measured
    // later in each round had the higher median in five runs of five, whichever checkout it was
    // (docs/performance-one-connection.md).
    const peerRates: number[] = [];
    const rates = variants.map(() => [] as number[]);
    const lanes = [
      (dir: string | undefined) =>
        profiled('peer', dir, () => throughput(peer.url, bare, CONNECTIONS), throughputCalls),
      ...variants.map((variant, i) => (dir: string | undefined) => {
        const run = () => throughput(variant.url, router, CONNECTIONS);
        return i === 0 ? profiled('router', dir, run, throughputCalls) : run();
      }),
    ];
    // Each lane first as often as each other: the rounds are a multiple of the lanes (--before adds one).
    const rounds = Math.ceil(ROUNDS / lanes.length) * lanes.length;
    if (rounds !== ROUNDS)
      console.log(`${rounds} rounds, so that each of the ${lanes.length} lanes starts as many`);
    for (let round = 0; round < rounds; round++) {
      const dir = round === rounds - 1 ? values.profile : undefined;
      for (let k = 0; k < lanes.length; k++) {
        const lane = (round + k) % lanes.length;
        const rate = await lanes[lane]!(dir);
        (lane === 0 ? peerRates : rates[lane - 1]!).push(rate);
      }
    }
    const best = (xs: number[]): number => Math.max(...xs);
    const all = (xs: number[]): string => xs.map((r) => r.toFixed(0)).join('/');
    const peerRate = best(peerRates);
    for (const [i, { label }] of variants.entries()) {
      const xs = rates[i]!;
      console.log(
        `${CONNECTIONS} connections: ${label} ${best(xs).toFixed(0)} calls/s, bare SDK ${peerRate.toFixed(0)} ` +
          `calls/s, ratio ${(best(xs) / peerRate).toFixed(2)} (best of ${rounds} rounds; median ratio ` +
          `${(median(xs) / median(peerRates)).toFixed(2)}; ${all(xs)} vs ${all(peerRates)})`,
      );
    }
    const pPeer = await latency('1 connection, bare SDK', peer.url, bare);
    const pFloor = await latency(`1 connection, ${FLOOR}`, floor.url, floorCall);
    console.log(`1 connection: ${FLOOR} adds ${(pFloor - pPeer).toFixed(3)} ms p50`);
    const pOverlapped = await latency(`1 connection, ${OVERLAPPED}`, overlapped.url, overlappedCall, {
      name: 'overlapped-1',
      dir: values.profile,
    });
    console.log(`1 connection: ${OVERLAPPED} adds ${(pOverlapped - pPeer).toFixed(3)} ms p50`);
    // The routers in two passes of half the calls each, the second in the reverse order: of two
    // measured one after the other, the later was faster by 0.04 to 0.05 ms whichever checkout it
    // was (docs/performance-one-connection.md). The router's profile covers its first half.
    const halves = variants.map(() => [] as number[]);
    const order = variants.map((_, i) => i);
    const half = Math.ceil(SEQUENTIAL / 2);
    for (const [pass, indices] of [order, [...order].reverse()].entries()) {
      for (const i of indices) {
        const profile = pass === 0 && i === 0 ? { name: 'router-1', dir: values.profile } : undefined;
        halves[i]!.push(...(await latencySamples(variants[i]!.url, router, half, profile)));
      }
    }
    for (const [i, { label }] of variants.entries()) {
      const p50 = printLatency(`1 connection, ${label}`, halves[i]!);
      console.log(
        `1 connection: ${label} adds ${(p50 - pPeer).toFixed(3)} ms p50 (${(p50 - pFloor).toFixed(3)} ms over the ` +
          `floor, ${(p50 - pOverlapped).toFixed(3)} over the overlapped one)`,
      );
    }
    if (toolErrors.size > 0)
      console.log(
        `calls answered with a tool error (not counted): ${[...toolErrors].map(([c, n]) => `${n} x ${c}`).join(', ')}`,
      );
  } finally {
    await Promise.all([before?.close(), onOther?.close(), uncached.close()]);
    await Promise.all([peer.close(), floor.close(), overlapped.close()]);
    floorRedis.disconnect();
    await stack.close();
  }
}

await main();
