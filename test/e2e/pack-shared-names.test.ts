// A pack tool cannot take a shared tool's name, on the real engine, Redis, supervisor and router with
// an operator's shared module loaded (test/support/fixtures/operator-tool.ts, `units_convert`): the
// fixture pack `units` (test/support/fixtures/packs/units/) lists `convert`, exposed as
// `units_convert`. Pack names may not be a built-in tool's first word, but the router alone knows
// its operator's modules, after any approval (router/tools/pack-catalog.ts). A stock client of the
// tenant is listed one `units_convert`, the shared tool, and calling it reaches the shared tool; the
// pack's other tool is served. Before, the client was listed both under the one name, the pack's
// description beside the shared tool's, and a call went to whichever the router found first.
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentClient } from '../support/mcp-client.ts';
import { FIXTURE_PACKS } from '../support/pack-image.ts';
import { openPackLab, type PackLab } from '../support/pack-lab.ts';
import type { TestStack } from '../support/stack.ts';
import { until } from '../support/until.ts';

const OPERATOR_TOOL = fileURLToPath(new URL('../support/fixtures/operator-tool.ts', import.meta.url));
let lab: PackLab;
let stack: TestStack;

async function listedTools(): Promise<{ name: string; description?: string }[]> {
  const client = await agentClient(stack, 'alpha');
  try {
    return (await client.listTools()).tools;
  } finally {
    await client.close();
  }
}

beforeAll(async () => {
  lab = await openPackLab('sharednames', { router: { sharedToolModules: [OPERATOR_TOOL] } });
  ({ stack } = lab);
  await stack.onboard('alpha');
  const version = `0.0.0-shared-${stack.ns.namespace.slice(-6)}`;
  const { dir, manifest } = await lab.copyPack('test/support/fixtures/packs/units', version);
  await copyFile(join(FIXTURE_PACKS, 'stdio-server.mjs'), join(dir, 'stdio-server.mjs'));
  expect(await lab.buildAndApprove(dir, manifest)).toEqual(['units_convert', 'units_ping']);
  await lab.enable('alpha', [{ name: 'units', version }]);
  await lab.noteTenantImage('alpha');
  // The router picks up the new pin on its watch.
  await until(
    async () => (await listedTools()).some((t) => t.name === 'units_ping'),
    'the units pack in the tool list',
    200,
  );
}, 300_000);

afterAll(async () => {
  await lab?.close();
});

describe("a pack tool under a shared tool's name", () => {
  it('is not listed: the tenant is listed one tool of each name, the shared one under its own', async () => {
    const tools = await listedTools();
    const names = tools.map((t) => t.name);
    expect(names.filter((name) => name === 'units_convert')).toHaveLength(1);
    expect(new Set(names).size).toBe(names.length);
    expect(tools.find((t) => t.name === 'units_convert')?.description).toBe(
      'Convert a length between km, m and cm.',
    );
  }, 60_000);

  it("is not called: a call under the name reaches the shared tool, and the pack's other tool is served", async () => {
    const client = await agentClient(stack, 'alpha');
    try {
      const converted = await client.callTool({
        name: 'units_convert',
        arguments: { value: 2, from: 'km', to: 'm' },
      });
      expect(converted.structuredContent).toEqual({ value: 2000 });
      const ping = await client.callTool({ name: 'units_ping', arguments: {} });
      expect(ping.content).toEqual([{ type: 'text', text: 'pack ping' }]);
    } finally {
      await client.close();
    }
  }, 60_000);
});
