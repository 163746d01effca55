// The official MCP conformance suite (`conformance server`) against the running router, for a
// tenant whose container hosts the conformance pack (test/support/fixtures/packs/conformance/: the
// suite's `test_*` tools, `test://` resources, prompts, logging and completion on the SDK's
// low-level Server). The pack goes through the operator's real path: built offline, approved,
// pinned for the tenant. The committed baseline of expected failures
// (test/conformance/expected-failures.yaml) explains each entry. Exit 0 means: no failure outside
// the baseline and no baseline entry that now passes.
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentClient } from '../support/mcp-client.ts';
import { openPackLab, type PackLab } from '../support/pack-lab.ts';
import type { TestStack } from '../support/stack.ts';

const run = promisify(execFile);
let lab: PackLab;
let stack: TestStack;
let scratch: string;

/** Builds, approves and pins the conformance pack for `tenant`, under a version of this run. */
async function enableConformancePack(tenant: string): Promise<void> {
  const { dir, manifest } = await lab.copyPack(
    'test/support/fixtures/packs/conformance',
    `0.0.0-conformance-${stack.ns.namespace.slice(-6)}`,
  );
  await lab.buildAndApprove(dir, manifest);
  // Opened to agents acting alone (the suite's caller), as an operator would choose to. The pack's
  // tools declare no scope, so any valid agent token of the tenant may call them.
  await lab.enable(tenant, [{ name: manifest.name, version: manifest.version }]);
  await lab.noteTenantImage(tenant);
  const listed = async () => {
    const client = await agentClient(stack, tenant);
    try {
      return (await client.listTools()).tools.map((t) => t.name);
    } finally {
      await client.close();
    }
  };
  // The router picks up the new pin on its watch; wait until the tenant's list shows the pack.
  for (let tries = 0; !(await listed()).includes('test_simple_text'); tries += 1) {
    if (tries === 100) throw new Error('the conformance pack never reached the tool list');
    await new Promise((done) => setTimeout(done, 200));
  }
}

beforeAll(async () => {
  lab = await openPackLab('conformance');
  ({ stack, work: scratch } = lab);
  await stack.onboard('alpha');
  await enableConformancePack('alpha');
}, 300_000);

afterAll(async () => {
  await lab?.close();
});

/** The suite's failed checks (results/<scenario>/checks.json), so a failing run says why. */
async function failedChecks(): Promise<string> {
  const dir = join(scratch, 'results');
  const lines: string[] = [];
  for (const entry of await readdir(dir).catch(() => [])) {
    const raw = await readFile(join(dir, entry, 'checks.json'), 'utf8').catch(() => '[]');
    for (const check of JSON.parse(raw) as { status?: string }[])
      if (check.status === 'FAILURE') lines.push(`${entry}: ${JSON.stringify(check)}`);
  }
  return lines.join('\n');
}

describe('MCP conformance suite', () => {
  it('passes against the router, failing only where the committed baseline says why', async () => {
    const token = await stack.agentToken('alpha');
    const args = [
      resolve('node_modules/.bin/conformance'),
      'server',
      '--url',
      stack.mcpUrl,
      '--expected-failures',
      resolve('test/conformance/expected-failures.yaml'),
      '-o',
      join(scratch, 'results'),
    ];
    const env = {
      ...process.env,
      HOME: scratch,
      NODE_OPTIONS: `--import ${resolve('test/conformance/bearer-preload.ts')}`,
      BULKHEAD_CONFORMANCE_TOKEN: token,
      BULKHEAD_CONFORMANCE_ORIGIN: new URL(stack.mcpUrl).origin,
    };
    let exitCode = 0;
    let output: string;
    try {
      const { stdout, stderr } = await run(process.execPath, args, { env, timeout: 240_000 });
      output = stdout + stderr;
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      exitCode = failed.code ?? -1;
      output = (failed.stdout ?? '') + (failed.stderr ?? '');
    }
    if (exitCode !== 0) console.log(output.slice(output.indexOf('=== SUMMARY ===')), await failedChecks());
    expect({ exitCode, summary: output.slice(output.indexOf('=== SUMMARY ===')) }).toMatchObject({
      exitCode: 0,
    });
    // Every scenario outside the baseline passes outright (not merely "expected"), each by name.
    const outright = [
      'server-initialize',
      'ping',
      'logging-set-level',
      'completion-complete',
      'tools-list',
      'tools-call-simple-text',
      'tools-call-image',
      'tools-call-audio',
      'tools-call-embedded-resource',
      'tools-call-mixed-content',
      'tools-call-with-logging',
      'tools-call-error',
      'tools-call-with-progress',
      'tools-call-sampling',
      'tools-call-elicitation',
      'elicitation-sep1034-defaults',
      'elicitation-sep1330-enums',
      'server-sse-multiple-streams',
      'resources-list',
      'resources-read-text',
      'resources-read-binary',
      'resources-templates-read',
      'prompts-list',
      'prompts-get-simple',
      'prompts-get-with-args',
      'prompts-get-embedded-resource',
      'prompts-get-with-image',
    ];
    for (const scenario of outright) {
      expect(output).toMatch(new RegExp(`✓ ${scenario}: \\d+ passed, 0 failed`));
    }
  }, 300_000);
});
