// The warm write of the lifecycle benchmark (lifecycle.ts), layer by layer, taking turns call by
// call: the container's socket directly (a signed request, raw), the router's dispatcher over that
// socket, the whole router over HTTP with a raw client (the stock SDK client's request, captured once
// and sent again with a fresh idempotency key), and the whole router through the stock SDK client;
// beside them the router answering alone (`whoami`, raw): its own cost per call, without a container;
// and a floor (write-floor.ts): the bare SDK server handing the router's raw write to the same
// dispatcher while waiting on Redis as often as the router does, none of the controls' work done.
// Raw against raw is what Bulkhead adds; the SDK client row adds what the client library costs. Then
// writes per second through the router with 1 and 10 connections (write-rate.ts), and through the
// other checkout's router too with `--before`.
// Taking turns matters: the container's CPU quota (plan small: 500 ms per 1 s period) is spent by
// every row alike, so a period it runs out in slows every row, not only the one measured then.
import { join, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { Agent, Pool, request } from 'undici';
import { createCallSigner } from '../../router/dispatch/call-signer.ts';
import { mcpHeaders } from '../../router/dispatch/runtime-request.ts';
import { TenantDispatcher } from '../../router/dispatch/tenant-dispatcher.ts';
import { ensureCallKeys } from '../../tenants/control-plane/call-keys.ts';
import { CALL_ASSERTION_HEADER, type CallContext } from '../../kernel/wire/call-assertion.ts';
import {
  bearerClient,
  captureRequests,
  write,
  type CapturedRequest,
  type WriteOutcome,
} from '../support/mcp-client.ts';
import type { TestStack } from '../support/stack.ts';
import { throttledMs } from './container-cpu.ts';
import { startWriteFloor } from './write-floor.ts';
import { withFreshKey, writeRate } from './write-rate.ts';
import { printFigures } from './figures.ts';

const ROUNDS = 200;
/** How long each write-rate phase runs (write-rate.ts). */
const RATE_SECONDS = 5;

function stats(label: string, samples: number[]): number {
  return printFigures(label, samples, { digits: 2, labelWidth: 62 });
}

/** A timed write's outcome, or a stop: a refused write would be timed as a (fast) write. */
export function succeeded(outcome: WriteOutcome): WriteOutcome {
  if (!outcome.ok) throw new Error(`a measured write was refused: ${JSON.stringify(outcome.error)}`);
  return outcome;
}

/** The stock SDK client's records_create and whoami requests to the router, captured as sent. */
async function captureRouterRequests(
  mcpUrl: string,
  token: string,
): Promise<{ write: CapturedRequest; whoami: CapturedRequest }> {
  const seen = await captureRequests(mcpUrl, token, async (client) => {
    succeeded(await write(client, 'capture'));
    if ((await client.callTool({ name: 'whoami', arguments: {} })).isError) throw new Error('whoami failed');
  });
  const writeCall = seen.findLast((c) => c.body.includes('"records_create"'));
  const whoamiCall = seen.findLast((c) => c.body.includes('"whoami"'));
  if (!writeCall || !whoamiCall) throw new Error('the records_create and whoami requests were not captured');
  return { write: writeCall, whoami: whoamiCall };
}

/** 0 .. n-1 in a random order (Fisher-Yates). */
function shuffled(n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

interface RawRouter {
  /** One request to the router, raw; a write gets a fresh idempotency key. */
  call(which: 'write' | 'whoami', key?: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * A router's write and whoami as the stock SDK client sent them (captureRouterRequests), sent again
 * raw to `mcpUrl` on one kept-alive connection.
 */
function rawClient(mcpUrl: string, calls: { write: CapturedRequest; whoami: CapturedRequest }): RawRouter {
  const url = new URL(mcpUrl);
  const pool = new Pool(url.origin, { connections: 1 });
  return {
    async call(which, key) {
      const captured = calls[which];
      const t0 = performance.now();
      const res = await pool.request({
        path: url.pathname,
        method: 'POST',
        headers: captured.headers,
        body: key === undefined ? captured.body : withFreshKey(captured.body, key),
      });
      const text = await res.body.text();
      const ms = performance.now() - t0;
      if (res.statusCode !== 200 || text.includes('"isError":true'))
        throw new Error(`a measured call was refused: ${res.statusCode} ${text.slice(0, 300)}`);
      return ms;
    },
    close: () => pool.close(),
  };
}

export interface WarmWriteOptions {
  stack: TestStack;
  /** A tenant of the stack whose runtime is running, with budgets the loops cannot reach. */
  tenant: string;
  /** Another checkout (`--before DIR`): its dispatcher takes turns with this tree's. */
  before?: string | undefined;
  /** That checkout's whole stack, with a running `tenant` of its own: its router takes turns too. */
  beforeStack?: TestStack | undefined;
}

/** Measures and prints the rows; every measured write is a write of its own (a fresh key). */
export async function measureWarmWrites(options: WarmWriteOptions): Promise<void> {
  const { stack, tenant } = options;
  const token = await stack.agentToken(tenant);
  const sdkClient = await bearerClient(stack.mcpUrl, token);
  const keys = await ensureCallKeys(join(stack.ns.runDir, 'keys'));
  const sign = await createCallSigner(await readFile(keys.privateKeyFile, 'utf8'));
  const dispatcherOptions = { runtimes: stack.runtimes, sign, logger: pino({ level: 'silent' }) };
  const dispatcher = new TenantDispatcher(dispatcherOptions);
  const Before = options.before
    ? (
        (await import(resolve(options.before, 'router/dispatch/tenant-dispatcher.ts'))) as {
          TenantDispatcher: typeof TenantDispatcher;
        }
      ).TenantDispatcher
    : undefined;
  const before = Before ? new Before(dispatcherOptions) : undefined;
  const context: CallContext = {
    tenant,
    user: null,
    agent: 'bench',
    scopes: ['records:write', 'records:read'],
  };
  const createVia = (via: Pick<TenantDispatcher, 'callTool'>, key: string) =>
    via.callTool(context, 'records_create', { title: key, idempotency_key: `${key}-${Date.now()}` });

  // One request the dispatcher sends, captured, then sent raw over the socket (fresh signature).
  const socket = (await stack.runtimes.ensure(tenant)) as { socketPath: string };
  const captured: string[] = [];
  const capture = new TenantDispatcher({
    runtimes: stack.runtimes,
    sign: async (ctx, body) => {
      captured.push(typeof body === 'string' ? body : Buffer.from(body).toString());
      return sign(ctx, body);
    },
    logger: pino({ level: 'silent' }),
  });
  await capture.callTool(context, 'records_create', {
    title: 'capture',
    idempotency_key: `capture-${Date.now()}`,
  });
  await capture.callTool(context, 'records_get', { id: '00000000-0000-0000-0000-000000000000' });
  await capture.close();
  const [createBody = '', getBody = ''] = captured.slice(-2);
  const socketAgent = new Agent({ connect: { socketPath: socket.socketPath } });
  const direct = async (body: string): Promise<number> => {
    const t0 = performance.now();
    const parsed = JSON.parse(body) as { params: { name: string } };
    const res = await request('http://tenant/mcp', {
      method: 'POST',
      dispatcher: socketAgent,
      headers: {
        ...mcpHeaders('tools/call', parsed.params),
        [CALL_ASSERTION_HEADER]: await sign(context, body),
      },
      body,
    });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`direct call answered ${res.statusCode}`);
    return performance.now() - t0;
  };

  // The router over HTTP, raw: one kept-alive connection, as the SDK client's fetch keeps one.
  const routerCalls = await captureRouterRequests(stack.mcpUrl, token);
  const router = rawClient(stack.mcpUrl, routerCalls);
  // The floor (write-floor.ts): the bare SDK, the same dispatcher, its waits on Redis; sent the
  // router's own request.
  const floorDispatcher = new TenantDispatcher(dispatcherOptions);
  const floorRedis = new Redis(stack.ns.installation.redis);
  const floorServer = await startWriteFloor({ dispatcher: floorDispatcher, context, redis: floorRedis });
  const floor = rawClient(floorServer.url, routerCalls);
  // The other checkout's whole stack (`--before`), its router written to the same way.
  const beforeCalls = options.beforeStack
    ? await captureRouterRequests(options.beforeStack.mcpUrl, await options.beforeStack.agentToken(tenant))
    : undefined;
  const beforeRouter =
    options.beforeStack && beforeCalls ? rawClient(options.beforeStack.mcpUrl, beforeCalls) : undefined;
  const timed = async (call: () => Promise<unknown>): Promise<number> => {
    const t0 = performance.now();
    await call();
    return performance.now() - t0;
  };
  const rows = {
    sdk: [] as number[],
    router: [] as number[],
    whoami: [] as number[],
    floor: [] as number[],
    dispatcher: [] as number[],
    before: [] as number[],
    direct: [] as number[],
  };
  const paths: ((i: number) => Promise<void>)[] = [
    async (i) => void rows.sdk.push(succeeded(await write(sdkClient, `warm-${i}`)).ms),
    async (i) => void rows.router.push(await router.call('write', `h-${i}`)),
    async () => void rows.whoami.push(await router.call('whoami')),
    async (i) => void rows.floor.push(await floor.call('write', `f-${i}`)),
    async (i) => void rows.dispatcher.push(await timed(() => createVia(dispatcher, `d-${i}`))),
    ...(before
      ? [async (i: number) => void rows.before.push(await timed(() => createVia(before, `b-${i}`)))]
      : []),
    async (i) => void rows.direct.push(await direct(withFreshKey(createBody, `r-${i}`))),
  ];
  // Warm-up, unmeasured: every path's connection and code is hot before the first timed write.
  for (let i = 0; i < 20; i++) for (const run of paths) await run(i);
  for (const list of Object.values(rows)) list.length = 0;
  const throttledBefore = await throttledMs(stack, tenant);
  // Each round in an order of its own: a write's commit can wait on the one just before it (the
  // volume's journal), so no path may always follow the same one. (Starting each round one path
  // further on did not do that: each path followed the same one in every round it was not first.)
  for (let i = 0; i < ROUNDS; i++) for (const k of shuffled(paths.length)) await paths[k]!(i);
  const throttled = (await throttledMs(stack, tenant)) - throttledBefore;
  const directRead: number[] = [];
  for (let i = 0; i < ROUNDS; i++) directRead.push(await direct(getBody));
  const signOnly: number[] = [];
  for (let i = 0; i < ROUNDS; i++) signOnly.push(await timed(() => sign(context, `{"n":${i}}`)));
  // The two whole stacks, apart from the rows above, each container taking one write per round,
  // the other stack's first written to as often as this one's was in the rows above: a container's
  // Node processes answer faster once warm (most likely V8's optimized code; not measured). Without
  // that, this stack was 0.6 to 1.1 ms faster at p50 whichever checkout it ran; with it, against
  // itself, 0.03 ms (docs/performance-router.md).
  const ab = { here: [] as number[], before: [] as number[] };
  if (beforeRouter) {
    const turns = [
      async (i: number) => void ab.here.push(await router.call('write', `ah-${i}`)),
      async (i: number) => void ab.before.push(await beforeRouter.call('write', `ab-${i}`)),
    ];
    for (let i = 0; i < (20 + ROUNDS) * paths.length; i++) await beforeRouter.call('write', `w-${i}`);
    for (let i = 0; i < ROUNDS; i++) for (const k of shuffled(turns.length)) await turns[k]!(i);
  }
  // Writes per second with 1 and 10 connections, each stack's in turn (the order alternating).
  const rates: string[] = [];
  for (const [round, connections] of [1, 10].entries()) {
    const lanes = [
      { label: 'this tree', url: stack.mcpUrl, write: routerCalls.write },
      ...(options.beforeStack && beforeCalls
        ? [{ label: String(options.before), url: options.beforeStack.mcpUrl, write: beforeCalls.write }]
        : []),
    ];
    for (const lane of round % 2 === 0 ? lanes : lanes.reverse()) {
      const rate = await writeRate(lane.url, lane.write, {
        connections,
        seconds: RATE_SECONDS,
        keyPrefix: 'rate',
      });
      rates.push(
        `${lane.label}, ${connections} connection${connections > 1 ? 's' : ''}: ${rate.rate.toFixed(0)}/s` +
          (rate.refused > 0 ? ` (${rate.refused} refused)` : ''),
      );
    }
  }
  await Promise.all([
    sdkClient.close(),
    dispatcher.close(),
    before?.close(),
    socketAgent.close(),
    router.close(),
    beforeRouter?.close(),
    floor.close(),
    floorServer.close(),
    floorDispatcher.close(),
  ]);
  floorRedis.disconnect();

  const pSdk = stats('warm write, full stack (stock MCP client -> router)', rows.sdk);
  const pRouter = stats('warm write, full stack (raw HTTP -> router)', rows.router);
  const pWhoami = stats('  the router alone: whoami (raw HTTP, no container)', rows.whoami);
  const pFloor = stats('warm write, floor (bare SDK, dispatcher, 2+1 Redis round trips)', rows.floor);
  const pDispatch = stats('warm write, router dispatcher -> socket', rows.dispatcher);
  const pBefore = before ? stats(`  dispatcher of ${options.before} (same run)`, rows.before) : NaN;
  const pDirect = stats('warm write, socket directly (signed, raw)', rows.direct);
  const pRead = stats('warm read, socket directly (signed, raw)', directRead);
  const pSign = stats('  of which: signing the call assertion', signOnly);
  const over = (p: number): string => `${(p - pDirect).toFixed(2)} ms`;
  console.log(
    `warm write overhead vs socket directly, p50: full stack ${over(pRouter)} (raw client), ` +
      `${over(pSdk)} (stock MCP client); its floor ${over(pFloor)}; the router's own whoami ${pWhoami.toFixed(2)} ms; dispatcher ${over(pDispatch)}` +
      `${before ? `, dispatcher of ${options.before} ${over(pBefore)}` : ''}; write - read in the container ` +
      `(SQLite WAL, synchronous FULL commit) ${(pDirect - pRead).toFixed(2)} ms; signing ${pSign.toFixed(2)} ms; ` +
      `the container throttled by its CPU quota ${throttled.toFixed(0)} ms in all while the writes took turns`,
  );
  console.log(`writes through the router for one tenant, ${RATE_SECONDS} s each: ${rates.join('; ')}`);
  if (!beforeRouter) return;
  const pHere = stats('warm write, full stack (raw HTTP), taking turns with the other stack', ab.here);
  const pThere = stats(`  the same, the whole stack of ${options.before}`, ab.before);
  console.log(
    `warm write, this tree's full stack against ${options.before}'s, p50: ${(pHere - pThere).toFixed(2)} ms`,
  );
}
