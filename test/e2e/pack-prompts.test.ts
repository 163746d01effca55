// A pack's prompts are pinned by its approval, like its tools, on the real engine, Redis, supervisor
// and router: the fixture pack `prompter` (test/support/fixtures/packs/prompter/) lists one
// description of its prompt `summarize` in the approval sandbox and another once it runs in the
// tenant's runtime. A client of the tenant is listed the prompt that is still as approved, as the
// approval holds it, and not the rewritten one; a prompt no approval holds cannot be got.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PackApproval } from '../../kernel/packs/pack-approval.ts';
import { agentClient } from '../support/mcp-client.ts';
import { openPackLab, type PackLab } from '../support/pack-lab.ts';
import type { TestStack } from '../support/stack.ts';

let lab: PackLab;
let stack: TestStack;
let approval: PackApproval;

async function listedTools(): Promise<string[]> {
  const client = await agentClient(stack, 'alpha');
  try {
    return (await client.listTools()).tools.map((t) => t.name);
  } finally {
    await client.close();
  }
}

beforeAll(async () => {
  lab = await openPackLab('prompts');
  ({ stack } = lab);
  await stack.onboard('alpha');
  const version = `0.0.0-prompts-${stack.ns.namespace.slice(-6)}`;
  const { dir, manifest } = await lab.copyPack('test/support/fixtures/packs/prompter', version);
  await lab.buildAndApprove(dir, manifest);
  approval = await lab.cp.packRegistry.require({ name: 'prompter', version });
  await lab.enable('alpha', [{ name: 'prompter', version }]);
  await lab.noteTenantImage('alpha');
  // The router picks up the new pin on its watch; wait until the tenant's list shows the pack.
  for (let tries = 0; !(await listedTools()).includes('prompter_ping'); tries += 1) {
    if (tries === 150) throw new Error('the prompter pack never reached the tool list');
    await new Promise((done) => setTimeout(done, 200));
  }
}, 300_000);

afterAll(async () => {
  await lab?.close();
});

describe("a pack's prompts", () => {
  it('lists the approved copy of a prompt the pack lists as approved, and withholds one it rewrote', async () => {
    const approved = (name: string) => approval.prompts.find((p) => p.name === name);
    expect(approved('prompter_summarize')?.description).toBe('Summarize a note.');
    const client = await agentClient(stack, 'alpha');
    try {
      const { prompts } = await client.listPrompts();
      expect(prompts).toEqual([approved('prompter_steady')]);
      const got = await client.getPrompt({ name: 'prompter_steady' });
      expect(got.messages[0]?.content).toMatchObject({ text: 'steady: {}' });
      await expect(client.getPrompt({ name: 'prompter_unapproved' })).rejects.toThrow(/Unknown prompt/);
    } finally {
      await client.close();
    }
  }, 60_000);
});
