// The requests the router relays to a tenant's runtime besides tools/call (resources, prompts,
// completion: router/mcp/relay-handlers.ts) are counted and timed in the router's own metrics, by
// method and outcome (router/metrics/router-metrics.ts, docs/observability.md). The real stack: the
// IdP, Redis, the supervisor on the real engine and the router, with the fixture pack `notes`
// (resources, a resource template, a prompt, completion) built, approved and enabled like an
// operator's. A stock SDK client makes requests that are answered, refused before the runtime (a
// prompt and a resource the caller cannot reach) and failed by the pack; the router's /metrics,
// scraped over HTTP, counts exactly those, by outcome and error class, and names no prompt or URI.
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packImage } from '../../kernel/packs/pack-manifest.ts';
import { approveFixturePack, enableFixturePack } from '../support/fixture-pack.ts';
import { agentClient } from '../support/mcp-client.ts';
import { openPackLab, type PackLab } from '../support/pack-lab.ts';
import { removeImage } from '../support/pack-image.ts';
import { scrape, total } from '../support/prometheus-text.ts';
import type { TestStack } from '../support/stack.ts';

const TENANT = 'relayed';
/** A tenant with no pack but the records tools: its runtime serves no resources at all. */
const PLAIN = 'plain';
/** Strings a request named: none may become a label value. */
const NAMED = ['notes://readme', 'notes://note/%E0', 'elsewhere://x', 'notes_summarize', 'notes_absent'];

let lab: PackLab;
let stack: TestStack;
let image: string | undefined;
let client: Client;

beforeAll(async () => {
  lab = await openPackLab('relay-metrics', { router: { metricsPort: 0, metricsTenantLabel: true } });
  ({ stack } = lab);
  await Promise.all([stack.onboard(TENANT), stack.onboard(PLAIN)]);
  const pin = await approveFixturePack({ stack, cp: lab.cp, name: 'notes', work: lab.work });
  image = packImage(pin);
  await enableFixturePack({ stack, cp: lab.cp, tenant: TENANT, pin });
  await lab.noteTenantImage(TENANT);
  // The router picks the new pin up on its watch: until the agent is listed the pack's tools (and
  // so reaches its resources and prompts). Listing tools relays nothing.
  for (let tries = 0; ; tries += 1) {
    client = await agentClient(stack, TENANT);
    if ((await client.listTools()).tools.some((t) => t.name === 'notes_list')) break;
    await client.close();
    if (tries === 150) throw new Error('the notes pack never reached the tool list');
    await new Promise((done) => setTimeout(done, 200));
  }
}, 420_000);

afterAll(async () => {
  await client?.close();
  await lab?.close();
  if (image) await removeImage(image);
});

describe("the router's metrics of relayed requests", () => {
  it('count each relayed request by method, outcome and error class, and time it', async () => {
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(['notes_summarize']);
    for (const title of ['a', 'b']) {
      const got = await client.getPrompt({ name: 'notes_summarize', arguments: { title } });
      expect(got.messages[0]?.content).toMatchObject({ text: `Summarize ${title}` });
    }
    // No approval holds it: refused by the router before the runtime.
    await expect(client.getPrompt({ name: 'notes_absent' })).rejects.toThrow(/Unknown prompt/);
    expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(['notes://readme']);
    expect((await client.listResourceTemplates()).resourceTemplates).toHaveLength(1);
    const read = await client.readResource({ uri: 'notes://readme' });
    expect(read.contents[0]).toMatchObject({ text: 'notes pack' });
    // A title that does not decode: the pack fails the read (a JSON-RPC internal error).
    await expect(client.readResource({ uri: 'notes://note/%E0' })).rejects.toThrow(/URI malformed/);
    // No pack of the tenant serves that scheme: refused by the runtime as not found.
    await expect(client.readResource({ uri: 'elsewhere://x' })).rejects.toThrow();
    const completed = await client.complete({
      ref: { type: 'ref/prompt', name: 'notes_summarize' },
      argument: { name: 'title', value: 'al' },
    });
    expect(completed.completion.values).toEqual(['alpha']);

    const router = await scrape(stack.router.metricsUrl!);
    const relayed = (labels: Record<string, string>): number =>
      total(router, 'bulkhead_relayed_requests_total', { tenant: TENANT, ...labels });
    const ok = { outcome: 'ok', error_class: 'none' };
    expect(relayed({ method: 'prompts/list', ...ok })).toBe(1);
    expect(relayed({ method: 'prompts/get', ...ok })).toBe(2);
    expect(relayed({ method: 'prompts/get', outcome: 'unknown_prompt', error_class: 'validation' })).toBe(1);
    expect(relayed({ method: 'resources/list', ...ok })).toBe(1);
    expect(relayed({ method: 'resources/templates/list', ...ok })).toBe(1);
    expect(relayed({ method: 'resources/read', ...ok })).toBe(1);
    expect(relayed({ method: 'resources/read', outcome: 'internal', error_class: 'internal' })).toBe(1);
    expect(
      relayed({ method: 'resources/read', outcome: 'unknown_resource', error_class: 'validation' }),
    ).toBe(1);
    expect(relayed({ method: 'completion/complete', ...ok })).toBe(1);
    // Nothing else: every series of the counter is one of those above.
    expect(relayed({})).toBe(10);
    const timed = (method: string): number =>
      total(router, 'bulkhead_relayed_request_duration_seconds_count', { tenant: TENANT, method });
    expect(timed('prompts/get')).toBe(3);
    expect(timed('resources/read')).toBe(3);
    expect(total(router, 'bulkhead_relayed_request_duration_seconds_count', { tenant: TENANT })).toBe(10);
    expect(
      total(router, 'bulkhead_relayed_request_duration_seconds_sum', { method: 'resources/read' }),
    ).toBeGreaterThan(0);
    // Relayed requests are not tool calls.
    expect(total(router, 'bulkhead_tool_calls_total')).toBe(0);
    // Bounded labels: the method, never the prompt or the URI the request named.
    const values = router.flatMap((s) => Object.values(s.labels));
    for (const named of NAMED)
      expect(
        values.some((v) => v.includes(named)),
        named,
      ).toBe(false);
  }, 60_000);

  it("a read where the tenant's runtime serves no resources is the caller's miss, not a failure", async () => {
    const plain = await agentClient(stack, PLAIN);
    try {
      // The runtime answers "method not found": the router, which declares resources, says what
      // the runtime says when its packs serve other resources.
      await expect(plain.readResource({ uri: 'notes://readme' })).rejects.toMatchObject({
        message: expect.stringContaining('Resource not found'),
        data: { code: 'unknown_resource', error_class: 'validation' },
      });
      // Nor is a completion of a resource template none of its packs serves: nothing to complete.
      expect(
        await plain.complete({
          ref: { type: 'ref/resource', uri: 'notes://note/{name}' },
          argument: { name: 'name', value: 'a' },
        }),
      ).toMatchObject({ completion: { values: [] } });
    } finally {
      await plain.close();
    }
    const router = await scrape(stack.router.metricsUrl!);
    const read = { tenant: PLAIN, method: 'resources/read' };
    expect(total(router, 'bulkhead_relayed_requests_total', read)).toBe(1);
    expect(
      total(router, 'bulkhead_relayed_requests_total', {
        ...read,
        outcome: 'unknown_resource',
        error_class: 'validation',
      }),
    ).toBe(1);
    const completion = { tenant: PLAIN, method: 'completion/complete' };
    expect(total(router, 'bulkhead_relayed_requests_total', { ...completion, outcome: 'ok' })).toBe(1);
  }, 60_000);
});
