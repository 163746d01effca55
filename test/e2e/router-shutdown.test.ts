// A router process stopped by SIGTERM (a rolling restart, the engine's stop) lets the calls in
// flight finish before it closes its connections (router/http/request-drain.ts): a stock client's
// write that was running when the signal came is answered, not cut. A subscriptions/listen stream,
// open until its client goes, is not waited for: the process exits once the call is answered,
// though its drain deadline is a minute; its /metrics shows the call it waits for meanwhile. The
// call is held in flight by freezing the tenant's container in its host cgroup, behind the
// supervisor's back, and thawed once the signal is sent. With a notice period, the router first
// answers /healthz with 503 and goes on serving, so that a balancer takes it out before it stops
// listening.
import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setKernelFreezer } from '../support/frozen.ts';
import { bearerClient, containerName } from '../support/mcp-client.ts';
import { scrape, total } from '../support/prometheus-text.ts';
import { startRouterProcess, type RouterProcess } from '../support/router-process.ts';
import { freePort, startTestStack, type TestStack } from '../support/stack.ts';

const TENANT = 'drained';
let stack: TestStack;
let router: RouterProcess;
let metricsUrl: string;
const clients: Client[] = [];

beforeAll(async () => {
  // No health pass while the container is frozen: it would find the runtime not answering.
  stack = await startTestStack('drain', { supervisor: { healthIntervalMs: 3_600_000 } });
  await stack.onboard(TENANT);
  const metricsPort = await freePort();
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  router = await startRouterProcess(stack, {
    BULKHEAD_SHUTDOWN_DRAIN_MS: '60000',
    BULKHEAD_ROUTER_METRICS_PORT: String(metricsPort),
  });
}, 120_000);

afterAll(async () => {
  await setKernelFreezer(stack.ns.docker, containerName(stack, TENANT), false).catch(() => undefined);
  for (const client of clients) await client.close().catch(() => undefined);
  await router?.close();
  await stack?.close();
});

async function client(): Promise<Client> {
  const connected = await bearerClient(router.mcpUrl, await stack.agentToken(TENANT));
  clients.push(connected);
  return connected;
}

const create = () => ({ title: `drain ${randomUUID()}`, idempotency_key: `k-${randomUUID()}` });

async function inFlight(): Promise<number> {
  return total(await scrape(metricsUrl), 'bulkhead_mcp_requests_in_flight');
}

describe('a router process stopped by SIGTERM', () => {
  it('answers the call in flight, does not wait for a listen stream, then exits 0', async () => {
    const writer = await client();
    // The tenant's runtime up and routed.
    expect((await writer.callTool({ name: 'records_create', arguments: create() })).isError).toBeFalsy();
    const listener = await client();
    await listener.listen({ toolsListChanged: true });
    expect(await inFlight()).toBe(0);

    await setKernelFreezer(stack.ns.docker, containerName(stack, TENANT), true);
    const call = writer.callTool({ name: 'records_create', arguments: create() });
    for (let i = 0; i < 200 && (await inFlight()) < 1; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await inFlight()).toBe(1);

    process.kill(router.pid, 'SIGTERM');
    let exited = false;
    void router.exited.then(() => (exited = true));
    // The runtime is frozen, so the call cannot be answered yet: a router that did not wait for it
    // would have cut it and exited by now.
    await new Promise((r) => setTimeout(r, 500));
    expect(exited).toBe(false);
    // /metrics still answers while the router drains, and shows what it waits for.
    expect(await inFlight()).toBe(1);

    await setKernelFreezer(stack.ns.docker, containerName(stack, TENANT), false);
    const answered = await call;
    expect(answered.isError).toBeFalsy();
    expect(answered.structuredContent).toMatchObject({ record: { title: expect.stringMatching(/^drain /) } });
    // Well inside the minute of drain it was given: the listen stream still open was not waited for.
    expect(await router.exited).toBe(0);
  }, 60_000);

  it('with a notice period, keeps serving while /healthz answers 503, then exits 0', async () => {
    const noticed = await startRouterProcess(stack, { BULKHEAD_SHUTDOWN_NOTICE_MS: '3000' });
    const healthz = new URL('/healthz', noticed.mcpUrl).href;
    try {
      expect((await fetch(healthz)).status).toBe(200);
      const started = Date.now();
      process.kill(noticed.pid, 'SIGTERM');
      // A balancer polling /healthz sees the router not ready...
      let health = 0;
      for (let i = 0; i < 40 && health !== 503; i++) {
        health = (await fetch(healthz)).status;
        if (health !== 503) await new Promise((r) => setTimeout(r, 25));
      }
      expect(health).toBe(503);
      // ...while a client that still reaches it on a new connection is served, and told to go.
      const late = await bearerClient(noticed.mcpUrl, await stack.agentToken(TENANT));
      clients.push(late);
      expect((await late.callTool({ name: 'records_create', arguments: create() })).isError).toBeFalsy();
      const answer = await fetch(healthz);
      expect(answer.headers.get('connection')).toBe('close');
      expect(await noticed.exited).toBe(0);
      expect(Date.now() - started).toBeGreaterThanOrEqual(3_000);
    } finally {
      await noticed.close();
    }
  }, 60_000);
});
