// A pack reaches a downstream API the ordinary way (Node's fetch following HTTP_PROXY) through the
// egress gateway, on the real engine, Redis, supervisor and router: the pack is built, approved and
// enabled for a tenant like any operator's pack, the tenant's policy allows one loopback upstream
// for that pack, and an agent calls the pack's tool through the router. The allowed upstream
// answers; another host is refused with the gateway's error; each upstream call is in the tenant's
// audit trail under the pack's name; the container still has only `lo`.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEgressGateway } from '../../egress/gateway.ts';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import type { Upstream } from '../support/egress.ts';
import { startFetcherStack, type FetcherStack } from '../support/fetcher-tenant.ts';
import { agentClient, containerId } from '../support/mcp-client.ts';
import { execIn } from '../support/namespace.ts';
import type { TestStack } from '../support/stack.ts';

const TENANT = 'pack-egress';
let stack: TestStack;
let gateway: RunningEgressGateway;
let redis: Redis;
let allowed: Upstream;
let refused: Upstream;
let fetcher: FetcherStack;

beforeAll(async () => {
  fetcher = await startFetcherStack({ label: 'packegress', tenant: TENANT });
  ({ stack, gateway, redis, allowed, refused } = fetcher);
}, 240_000);

afterAll(() => fetcher?.close());

async function get(url: string): Promise<{ status: number; body: string }> {
  const client = await agentClient(stack, TENANT);
  try {
    await expect
      .poll(async () => (await client.listTools()).tools.map((t) => t.name), { timeout: 15_000 })
      .toContain('fetcher_get');
    // The gateway dials the new container's bridge on its pass: bounded wait until it has.
    for (let i = 0; i < 100 && (gateway.stats(TENANT)?.idle ?? 0) === 0; i++) {
      await gateway.refresh();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const result = await client.callTool({ name: 'fetcher_get', arguments: { url } });
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    return result.structuredContent as { status: number; body: string };
  } finally {
    await client.close();
  }
}

describe("a pack's downstream calls", () => {
  it('reach an allowed upstream through the gateway, are refused elsewhere, and are audited under the pack', async () => {
    const ok = await get(`http://127.0.0.1:${allowed.port}/v1/things`);
    expect(ok).toEqual({ status: 200, body: 'hello from allowed' });
    expect(allowed.seen.map((s) => s.url)).toContain('/v1/things');
    const denied = await get(`http://127.0.0.1:${refused.port}/v1/things`);
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body)).toMatchObject({ error: 'egress_denied', port: refused.port });
    expect(refused.seen).toEqual([]);
    const trail = new AuditTrail({ redis, prefix: stack.ns.installation.registryPrefix });
    // The gateway appends to the trail after it answers (egress/gateway.ts): poll, bounded.
    const egressEntries = async () => (await trail.entries(TENANT)).filter((e) => e.tool === 'egress');
    await expect
      .poll(
        async () => (await egressEntries()).map((e) => [e.decision, e.upstream?.port, e.upstream?.pack]),
        {
          timeout: 10_000,
        },
      )
      .toEqual([
        ['permit', allowed.port, 'fetcher'],
        ['deny', refused.port, 'fetcher'],
      ]);
    const upstream = await egressEntries();
    expect(upstream[0]?.upstream).toMatchObject({ method: 'GET', status: 200 });
    const id = await containerId(stack, TENANT);
    const net = await execIn(stack.ns.docker, id!, ['ls', '/sys/class/net']);
    expect(net.output.trim()).toBe('lo');
  }, 120_000);
});
