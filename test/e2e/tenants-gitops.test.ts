// `export` / `apply` of tenants as YAML and `update`, through the CLI on real Redis: apply shows a
// diff and writes only with --yes; bad input (malformed YAML, unknown tool, unknown plan, a secret
// value where a reference belongs, a stale generation) gets a clear error and changes nothing.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { runCli } from '../support/cli.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';

let ns: TestNamespace;
let redis: Redis;
let registry: TenantRegistry;
const cli = (...args: string[]) => runCli({ namespace: ns.namespace, devDir: ns.runDir }, args);

interface YamlFile {
  apiVersion: string;
  tenants: Record<string, unknown>[];
}

async function writeYaml(name: string, content: string): Promise<string> {
  const file = join(ns.runDir, name);
  await writeFile(file, content);
  return file;
}

async function snapshot(): Promise<string> {
  return JSON.stringify([await registry.list(), (await registry.history()).length]);
}

beforeAll(async () => {
  ns = await testNamespace('gitops');
  redis = new Redis(ns.installation.redis);
  registry = new TenantRegistry({ redis, prefix: ns.installation.registryPrefix });
  await registry.create({ id: 'kilo', plan: planByName('small'), isolation: 'runc' }, { actor: 'seed' });
});

afterAll(async () => {
  redis?.disconnect();
  await ns?.cleanup();
});

describe('export and apply', () => {
  let exported: YamlFile;

  it('exports tenants as YAML without system fields', async () => {
    const result = await cli('export');
    expect(result.code).toBe(0);
    exported = parse(result.stdout) as YamlFile;
    expect(exported.apiVersion).toBe('bulkhead/v1');
    expect(exported.tenants).toHaveLength(1);
    expect(exported.tenants[0]).toMatchObject({ id: 'kilo', isolation: 'runc', status: 'active' });
    expect(exported.tenants[0]).not.toHaveProperty('uid');
    expect(exported.tenants[0]).not.toHaveProperty('generation');
  });

  it('shows the diff and writes nothing without --yes', async () => {
    const before = await snapshot();
    const changed = { ...exported, tenants: [{ ...exported.tenants[0], displayName: 'Kilo GmbH' }] };
    const file = await writeYaml('changed.yaml', stringify(changed));
    const result = await cli('apply', '-f', file);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('~ kilo: generation 1 -> 2');
    expect(result.stdout).toContain('~ displayName: "kilo" -> "Kilo GmbH"');
    expect(result.stdout).toContain('nothing written. Re-run with --yes to apply.');
    expect(await snapshot()).toBe(before);
  });

  it('applies with --yes as a new generation recorded with who applied it, and creates new tenants', async () => {
    const lima = { ...exported.tenants[0], id: 'lima', displayName: 'Lima' };
    const changed = { ...exported, tenants: [{ ...exported.tenants[0], displayName: 'Kilo GmbH' }, lima] };
    const file = await writeYaml('apply.yaml', stringify(changed));
    const result = await cli('apply', '-f', file, '--yes');
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('+ lima: new tenant');
    expect(result.stdout).toContain('applied kilo\n');
    expect(result.stdout).toContain(
      'applied lima (new: the supervisor readies its image and volume in the background)',
    );
    expect(await registry.require('kilo')).toMatchObject({ displayName: 'Kilo GmbH', generation: 2 });
    expect(await registry.require('lima')).toMatchObject({ displayName: 'Lima', generation: 1 });
    const [last] = (await registry.history('kilo')).slice(-1);
    expect(last).toMatchObject({ actor: 'cli:test-operator', reason: `apply ${file}`, generation: 2 });
    expect((await cli('apply', '-f', file)).stdout).toContain('nothing to apply');
  });

  it('refuses malformed YAML and changes nothing', async () => {
    const before = await snapshot();
    const file = await writeYaml(
      'broken.yaml',
      'apiVersion: bulkhead/v1\ntenants:\n  - id: kilo\n    plan: [unclosed\n',
    );
    const result = await cli('apply', '-f', file, '--yes');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('malformed YAML');
    expect(await snapshot()).toBe(before);
  });

  it('refuses an unknown tool anywhere in the file and applies none of it', async () => {
    const before = await snapshot();
    const tenants = [
      { ...exported.tenants[0], displayName: 'would change' },
      {
        ...exported.tenants[0],
        id: 'mike',
        tools: [{ name: 'shell_exec', version: '1.0.0', agentsAlone: true }],
      },
    ];
    const file = await writeYaml('unknown-tool.yaml', stringify({ ...exported, tenants }));
    const result = await cli('apply', '-f', file, '--yes');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `invalid tenants file ${file}:\n  tenants[1].tools[0].name: unknown tool "shell_exec"`,
    );
    expect(await snapshot()).toBe(before);
  });

  it('refuses system fields, secret values and invalid ids in the file', async () => {
    const before = await snapshot();
    for (const tenant of [
      { ...exported.tenants[0], uid: 0 },
      { ...exported.tenants[0], secrets: [{ name: 'API_KEY', ref: 'hunter2' }] },
      { ...exported.tenants[0], id: 'Bad_Id!' },
    ]) {
      const file = await writeYaml('bad.yaml', stringify({ ...exported, tenants: [tenant] }));
      const result = await cli('apply', '-f', file, '--yes');
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(
        /tenants\[0\]\.(uid: unknown field|secrets\[0\]\.ref: a secret reference is a URI|id: tenant id must be)/,
      );
    }
    expect(await snapshot()).toBe(before);
  });
});

describe('update', () => {
  it('refuses an unknown tool, an unknown plan and a stale generation, changing nothing', async () => {
    const before = await snapshot();
    const tool = await cli('update', 'kilo', '--tools', 'records_get,shell_exec');
    expect(tool.code).toBe(2);
    expect(tool.stderr).toContain('unknown tool "shell_exec"');
    const plan = await cli('update', 'kilo', '--plan', 'gold');
    expect(plan.code).toBe(2);
    expect(plan.stderr).toContain('unknown plan "gold"');
    const { uid } = await registry.require('kilo');
    const stale = await cli('update', 'kilo', '--name', 'Late', '--if-generation', `${uid}:1`);
    expect(stale.code).toBe(4);
    expect(stale.stderr).toContain('changed: generation 2, expected 1');
    expect(await snapshot()).toBe(before);
  });

  it('changes a tenant as a new generation and prints what changed', async () => {
    const result = await cli('update', 'kilo', '--tools', 'whoami,records_get');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Updated kilo: generation 2 -> 3');
    expect(result.stdout).toMatch(/~ tools: .* -> \[\{"name":"whoami"/);
    expect((await registry.require('kilo')).tools.map((t) => t.name)).toEqual(['whoami', 'records_get']);
  });
});
