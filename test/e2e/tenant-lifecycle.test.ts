// The tenant lifecycle through the operator CLI with real Docker, Redis, IdP and MCP clients:
// onboard -> call -> suspend (refused with an authorization error, data kept) -> resume -> offboard,
// after which container, volume and secrets are gone and the audit export exists and verifies.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEntrySchema, verifyChain } from '../../kernel/audit/audit-trail.ts';
import { openToAgentsAlone } from '../../kernel/registry/tenant-registry.ts';
import { runCli } from '../support/cli.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

let stack: TestStack;
let redis: Redis;
const cli = (...args: string[]) => runCli({ namespace: stack.ns.namespace, devDir: stack.ns.runDir }, args);
const cliWithInput = (input: string, ...args: string[]) =>
  runCli({ namespace: stack.ns.namespace, devDir: stack.ns.runDir }, args, { input });

async function call(tenant: string, name: string, args: Record<string, unknown>) {
  const client = new Client({ name: 'lifecycle', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.mcpUrl), {
      authProvider: { token: async () => stack.agentToken(tenant) },
    }),
  );
  try {
    return await client.callTool({ name, arguments: args });
  } finally {
    await client.close();
  }
}

async function containers(tenant: string): Promise<number> {
  const list = await stack.ns.docker.listContainers({
    all: true,
    filters: { label: [`io.bulkhead.namespace=${stack.ns.namespace}`, `io.bulkhead.tenant=${tenant}`] },
  });
  return list.length;
}

async function volumeExists(tenant: string): Promise<boolean> {
  const { Volumes } = await stack.ns.docker.listVolumes({
    filters: { name: [`bulkhead-${stack.ns.namespace}-${tenant}-data`] },
  });
  return (Volumes ?? []).length > 0;
}

beforeAll(async () => {
  stack = await startTestStack('life');
  redis = new Redis(stack.ns.installation.redis);
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

describe('tenant lifecycle', () => {
  let recordId: string;

  it('onboards in one command and ends with endpoint, claim mapping, runtime status and evidence summary', async () => {
    const result = await cli('onboard', 'delta', '--name', 'Delta Ltd');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('registering tenant "delta"');
    expect(result.stdout).toMatch(/endpoint \{"kind":"unix","socketPath":".*delta\/mcp\.sock","uid":\d+\}/);
    expect(result.stdout).toContain(
      'claim mapping: tokens of the installation\'s issuer with claim tenant="delta"',
    );
    expect(result.stdout).toContain('(running)');
    expect(result.stdout).toMatch(/isolation evidence: (\d+)\/\1 checks pass/);
    // This test calls as an agent acting alone (client credentials): open the records tools to it.
    const onboarded = await stack.registry.require('delta');
    await stack.registry.update('delta', {
      expectedGeneration: onboarded.generation,
      changes: { tools: openToAgentsAlone('all') },
      author: { actor: 'test' },
    });
  });

  it('is idempotent: re-running the same onboard changes nothing and succeeds', async () => {
    const before = await stack.registry.get('delta');
    const result = await cli('onboard', 'delta', '--name', 'Delta Ltd', '--no-verify');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('already exists with these settings');
    expect(await stack.registry.get('delta')).toEqual(before);
    expect(await containers('delta')).toBe(1);
  });

  it('serves a call for the onboarded tenant', async () => {
    const result = await call('delta', 'records_create', {
      title: 'kept through suspension',
      idempotency_key: 'lifecycle-1',
    });
    expect(result.isError).toBeFalsy();
    recordId = (result.structuredContent as { record: { id: string } }).record.id;
  });

  it('stores a secret encrypted, with only a reference in the registry', async () => {
    const result = await cliWithInput('s3cr3t-downstream-token\n', 'secret', 'delta', 'CRM_TOKEN');
    expect(result.code).toBe(0);
    const tenant = await stack.registry.get('delta');
    expect(tenant?.secrets).toEqual([{ name: 'CRM_TOKEN', ref: 'secret://delta/CRM_TOKEN' }]);
    const raw = await redis.hget(`${stack.ns.installation.registryPrefix}:secrets:delta`, 'CRM_TOKEN');
    expect(raw).toBeTruthy();
    expect(Buffer.from(raw!, 'base64').toString('latin1')).not.toContain('s3cr3t');
    const keys = await redis.keys(`${stack.ns.installation.registryPrefix}:*`);
    for (const key of keys.filter((k) => k.includes(':tenant:') && !k.endsWith('changes'))) {
      expect(await redis.get(key)).not.toContain('s3cr3t');
    }
  });

  it('refuses calls of a suspended tenant with an authorization error and keeps its data', async () => {
    const result = await cli('suspend', 'delta');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Tenant delta is suspended');
    expect(await containers('delta')).toBe(0);
    expect(await volumeExists('delta')).toBe(true);
    await sleep(2_200); // the router's tenant cache lives 2 s
    const refused = await call('delta', 'records_get', { id: recordId });
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent).toMatchObject({
      error: { error_class: 'authorization', code: 'tenant_suspended', retryable: false },
    });
  });

  it('resumes: calls succeed again and the data written before suspension is there', async () => {
    expect((await cli('resume', 'delta')).code).toBe(0);
    await sleep(2_200);
    const result = await call('delta', 'records_get', { id: recordId });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ record: { title: 'kept through suspension' } });
  });

  it('records every change with who made it', async () => {
    const result = await cli('history', 'delta');
    expect(result.stdout).toMatch(/delta create generation=1 by cli:test-operator/);
    expect(result.stdout).toMatch(/delta update generation=4 by cli:test-operator \(suspend\)/);
    expect(result.stdout).toMatch(/~ status: "active" -> "suspended"/);
  });

  it('offboards: drains, exports the audit trail, destroys container, volume and secrets, prints a receipt', async () => {
    const auditDir = join(stack.ns.runDir, 'audit-export');
    const result = await cli('offboard', 'delta', '--yes', '--audit-dir', auditDir);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      'Destroyed for delta: container, data volume, socket directory, secrets (1: CRM_TOKEN), registry record',
    );
    expect(result.stdout).toContain(
      'Checked on the engine after the purge: no container labelled for the tenant or mounting its volume, no data volume, no socket directory',
    );
    expect(result.stdout).toMatch(/Audit trail exported: .*delta-audit\.jsonl \(\d+ entries, chain intact/);
    expect(await containers('delta')).toBe(0);
    expect(await volumeExists('delta')).toBe(false);
    expect(existsSync(join(stack.ns.runDir, 'run', stack.ns.namespace, 'delta'))).toBe(false);
    expect(await redis.exists(`${stack.ns.installation.registryPrefix}:secrets:delta`)).toBe(0);
    expect(await stack.registry.get('delta')).toBeUndefined();

    const lines = (await readFile(join(auditDir, 'delta-audit.jsonl'), 'utf8')).trim().split('\n');
    const entries = lines.map((line) => AuditEntrySchema.parse(JSON.parse(line)));
    // create, get (permit), get while suspended (deny), get after resume (permit)
    expect(entries.map((e) => [e.tool, e.decision])).toEqual([
      ['records_create', 'permit'],
      ['records_get', 'deny'],
      ['records_get', 'permit'],
    ]);
    expect(verifyChain(entries).ok).toBe(true);
    const check = JSON.parse(await readFile(join(auditDir, 'delta-audit-check.json'), 'utf8')) as {
      ok: boolean;
    };
    expect(check.ok).toBe(true);
    // Tampering with an exported entry breaks the chain.
    const tampered = entries.map((e, i) => (i === 1 ? { ...e, decision: 'permit' as const } : e));
    expect(verifyChain(tampered)).toMatchObject({ ok: false, problem: 'entry 2: content changed' });
  });
});
