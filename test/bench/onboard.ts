// Benchmark (not a test): the time from `bulkhead onboard <id>` (the real CLI, as a separate
// process, against a running supervisor) to the tenant's first successful tool call through the
// router. Prints figures; asserts nothing.
//   node test/bench/onboard.ts [--tenants 5] [--isolation runc|gvisor]
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { bearerClient } from '../support/mcp-client.ts';
import { printFigures } from './figures.ts';
import { benchArgs, isolationArg } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: { tenants: { type: 'string', default: '5' }, isolation: { type: 'string', default: 'runc' } },
});
const count = Number(values.tenants);
const isolation = isolationArg(values.isolation);

function onboardCli(stack: TestStack, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['tenants/cli/main.ts', 'onboard', ...args], {
      env: { ...process.env, BULKHEAD_NAMESPACE: stack.ns.namespace, BULKHEAD_DEV_DIR: stack.ns.runDir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`onboard exited ${code}: ${stderr}`)),
    );
  });
}

/** The first call comes from a user of the tenant (role editor): the default policy lets users write. */
async function firstCall(stack: TestStack, token: string): Promise<void> {
  const client = await bearerClient(stack.mcpUrl, token);
  try {
    const result = await client.callTool({
      name: 'records_create',
      arguments: { title: 'first', idempotency_key: randomUUID() },
    });
    if (result.isError) throw new Error(`first call failed: ${JSON.stringify(result.structuredContent)}`);
  } finally {
    await client.close();
  }
}

async function main(): Promise<void> {
  const ids = [false, true].flatMap((evidence) =>
    Array.from({ length: count }, (_, i) => `bench-${evidence ? 'e' : 'n'}-${i}`),
  );
  const stack = await startTestStack('bench-onb', {
    users: ids.map((id) => ({ id: `user-${id}`, tenant: id, roles: ['editor'] })),
  });
  const samples = {
    onboard: [] as number[],
    evidence: [] as number[],
    call: [] as number[],
    total: [] as number[],
    totalEvidence: [] as number[],
  };
  try {
    console.log(
      `onboard benchmark: ${count} tenants per variant, ${isolation}, plan small, Node ${process.version}`,
    );
    for (const withEvidence of [false, true]) {
      for (let i = 0; i < count; i++) {
        const id = `bench-${withEvidence ? 'e' : 'n'}-${i}`;
        // The user signs in before the clock starts: the IdP does not need the tenant to exist.
        const token = await stack.userToken(`user-${id}`, { tenant: id });
        const started = performance.now();
        await onboardCli(stack, [id, '--isolation', isolation, ...(withEvidence ? [] : ['--no-verify'])]);
        const onboarded = performance.now();
        await firstCall(stack, token);
        const called = performance.now();
        (withEvidence ? samples.evidence : samples.onboard).push(onboarded - started);
        if (!withEvidence) samples.call.push(called - onboarded);
        (withEvidence ? samples.totalEvidence : samples.total).push(called - started);
      }
    }
    printFigures('onboard CLI, process start to exit (--no-verify)', samples.onboard);
    printFigures('onboard CLI with isolation evidence (default)', samples.evidence);
    printFigures('first call after onboard (connect + call)', samples.call);
    printFigures('onboard -> first successful call (--no-verify)', samples.total);
    printFigures('onboard -> first successful call (with evidence)', samples.totalEvidence);
  } finally {
    await stack.close();
  }
}

await main();
