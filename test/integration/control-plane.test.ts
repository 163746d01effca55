// The control-plane use cases called directly, without the CLI, on real Redis in a test namespace
// with a real supervisor: update (guarded by the tenant and its generation, with the change log's lines, recycling an
// active tenant's runtime onto a new plan and leaving a suspended one alone), export -> parse ->
// plan -> apply of tenants YAML (a change made in between is a conflict, a tenant registered in
// between keeps its audit trail), an offboarding overtaken by a resume, and secrets.
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeOf, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { auditAsideKey, auditStreamKey } from '../../kernel/redis/keys.ts';
import { PLAN_QUOTAS, planByName } from '../../kernel/tenant/tenant-spec.ts';
import {
  ApplyInputError,
  applyPlan,
  parseTenantsYaml,
  pendingOf,
  planApply,
} from '../../tenants/control-plane/apply.ts';
import type { OpenedControlPlane } from '../../tenants/control-plane/context.ts';
import { exportTenants } from '../../tenants/control-plane/export.ts';
import { setSecret } from '../../tenants/control-plane/secrets.ts';
import { updateTenant, type UpdateOutcome } from '../../tenants/control-plane/update.ts';
import { onboardTenant } from '../../tenants/control-plane/onboard.ts';
import { offboardTenant } from '../../tenants/control-plane/offboard.ts';
import { UsageError } from '../../tenants/cli/command-kit.ts';
import type { RunningSupervisor } from '../../supervisor/supervisor.ts';
import { startControlPlaneStack } from '../support/control-plane-stack.ts';
import { execIn, testNamespace, type TestNamespace } from '../support/namespace.ts';

let ns: TestNamespace;
let cp: OpenedControlPlane;
let supervisor: RunningSupervisor;

/** What a rejected promise was rejected with. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a failure'),
    (error: unknown) => error,
  );
}

beforeAll(async () => {
  ns = await testNamespace('cplane');
  ({ supervisor, cp } = await startControlPlaneStack(ns, { actor: 'test:control-plane' }));
  const small = planByName('small');
  await cp.registry.create({ id: 'oscar', plan: small, isolation: 'runc' }, { actor: 'seed' });
  await cp.registry.create(
    { id: 'papa', plan: small, isolation: 'runc', status: 'suspended' },
    { actor: 'seed' },
  );
});

afterAll(async () => {
  await cp?.close();
  await supervisor?.close();
  await ns?.cleanup();
});

describe('update', () => {
  it('writes a new generation, reports the change log lines before returning, and names the actor', async () => {
    const seen: UpdateOutcome[] = [];
    const messages: string[] = [];
    const outcome = await updateTenant(
      cp,
      'oscar',
      { displayName: 'Oscar AG', tools: ['whoami', 'records_get'] },
      { progress: (m) => messages.push(m), updated: (o) => seen.push(o) },
    );
    expect(seen).toEqual([outcome]);
    expect(outcome.previousGeneration).toBe(1);
    expect(outcome.tenant.generation).toBe(2);
    expect(outcome.changes.map((c) => c.path).sort()).toEqual(['displayName', 'tools']);
    expect(outcome.tenant.tools).toEqual([
      { name: 'whoami', version: expect.any(String), agentsAlone: true },
      { name: 'records_get', version: expect.any(String), agentsAlone: true },
    ]);
    expect(outcome.tenant.tools.some((t) => t.version === '0.0.0-unknown')).toBe(false);
    expect(messages).toEqual([]);
    const [last] = (await cp.registry.history('oscar')).slice(-1);
    expect(last).toMatchObject({ actor: 'test:control-plane', reason: 'update', generation: 2 });
  });

  it('refuses a stale generation and an empty request, changing nothing', async () => {
    const before = await cp.registry.require('oscar');
    const stale = await failure(
      updateTenant(
        cp,
        'oscar',
        { displayName: 'Late', ifGeneration: { uid: before.uid, generation: 1 } },
        { progress() {} },
      ),
    );
    expect(isBulkheadError(stale, 'generation_conflict')).toBe(true);
    expect(exitCodeOf(stale)).toBe(4);
    const empty = await failure(updateTenant(cp, 'oscar', {}, { progress() {} }));
    expect(isBulkheadError(empty, 'invalid_input')).toBe(true);
    const missing = await failure(updateTenant(cp, 'nobody', { displayName: 'x' }, { progress() {} }));
    expect(isBulkheadError(missing, 'tenant_not_found')).toBe(true);
    expect(await cp.registry.require('oscar')).toEqual(before);
  });

  it('refuses --if-generation of a tenant offboarded and onboarded again at the same generation', async () => {
    const small = planByName('small');
    const first = await cp.registry.create({ id: 'uniform', plan: small, isolation: 'runc' });
    await cp.registry.delete('uniform', { actor: 'test', reason: 'offboard' });
    const again = await cp.registry.create({ id: 'uniform', plan: small, isolation: 'runc' });
    expect(again.generation).toBe(first.generation);
    const stale = await failure(
      updateTenant(
        cp,
        'uniform',
        {
          displayName: 'Meant for the first',
          ifGeneration: { uid: first.uid, generation: first.generation },
        },
        { progress() {} },
      ),
    );
    expect(isBulkheadError(stale, 'generation_conflict')).toBe(true);
    expect((stale as Error).message).toContain(`uid ${again.uid}, expected ${first.uid}`);
    expect(await cp.registry.require('uniform')).toEqual(again);
    const ifSame = { uid: again.uid, generation: again.generation };
    const outcome = await updateTenant(
      cp,
      'uniform',
      { displayName: 'Romeo', ifGeneration: ifSame },
      { progress() {} },
    );
    expect(outcome.tenant.displayName).toBe('Romeo');
    await cp.registry.delete('uniform', { actor: 'test' }); // the export below counts the seeded ones
  });

  it("brings the plan's quotas with a new plan, and leaves a suspended tenant's runtime alone", async () => {
    const messages: string[] = [];
    const outcome = await updateTenant(
      cp,
      'papa',
      { plan: 'standard' },
      { progress: (m) => messages.push(m) },
    );
    expect(outcome.tenant).toMatchObject({ plan: { name: 'standard' }, quotas: PLAN_QUOTAS.standard });
    expect(messages).toEqual([]);
    expect(await cp.runtimes.inspect('papa')).toBeNull();
  });

  it("recycles an active tenant's runtime onto a new plan once the generation is written", async () => {
    await onboardTenant(cp, { id: 'romeo', plan: 'small', isolation: 'runc', verify: false }, () => {});
    const before = await cp.runtimes.inspect('romeo');
    const events: string[] = [];
    await updateTenant(
      cp,
      'romeo',
      { plan: 'standard' },
      { progress: (m) => events.push(m), updated: (o) => events.push(`updated to ${o.tenant.generation}`) },
    );
    expect(events).toEqual(['updated to 2', 'recycling the runtime onto the new settings']);
    const after = await cp.runtimes.inspect('romeo');
    expect(after?.state).toBe('running');
    expect(after?.runtimeId).not.toBe(before?.runtimeId);
    const container = await ns.docker.getContainer(after!.runtimeId).inspect();
    expect(container.HostConfig.Memory).toBe(planByName('standard').memoryMb * 1024 * 1024);
  });
});

describe('export, plan and apply', () => {
  it('round-trips: an exported file parses and plans as unchanged', async () => {
    const { count, yaml } = await exportTenants(cp);
    expect(count).toBe(3);
    const plan = await planApply(cp, parseTenantsYaml(yaml, 'export'));
    expect(plan.map((p) => [p.config.id, p.changes.length])).toEqual([
      ['oscar', 0],
      ['papa', 0],
      ['romeo', 0],
    ]);
    expect(await applyPlan(cp, plan, { reason: 'no-op' })).toEqual([]);
  });

  it('plans changes and new tenants, and applies them in order as the actor', async () => {
    const { yaml } = await exportTenants(cp, ['oscar']);
    const edited = yaml.replace('displayName: Oscar AG', 'displayName: Oscar SE');
    const added = `${edited}  - ${yaml.split('\n  - ')[1]!.replace('id: oscar', 'id: quebec').replace('displayName: Oscar AG', 'displayName: Quebec')}`;
    const plan = await planApply(cp, parseTenantsYaml(added, 'edited.yaml'));
    expect(plan.map((p) => [p.config.id, p.current?.generation])).toEqual([
      ['oscar', 2],
      ['quebec', undefined],
    ]);
    expect(pendingOf(plan)).toHaveLength(2);
    const applied: string[] = [];
    expect(
      await applyPlan(cp, plan, { reason: 'apply edited.yaml', applied: (id) => applied.push(id) }),
    ).toEqual(['oscar', 'quebec']);
    expect(applied).toEqual(['oscar', 'quebec']);
    expect(await cp.registry.require('oscar')).toMatchObject({ displayName: 'Oscar SE', generation: 3 });
    expect(await cp.registry.require('quebec')).toMatchObject({ displayName: 'Quebec', generation: 1 });
    const [last] = (await cp.registry.history('oscar')).slice(-1);
    expect(last).toMatchObject({ actor: 'test:control-plane', reason: 'apply edited.yaml' });
  });

  it("readies a new tenant's volume in the background, and starts no container for it", async () => {
    const labelled = (...labels: string[]) => [`io.bulkhead.namespace=${ns.namespace}`, ...labels];
    const volumes = async () =>
      (await ns.docker.listVolumes({ filters: { label: labelled('io.bulkhead.tenant=quebec') } })).Volumes ??
      [];
    const helpers = () =>
      ns.docker.listContainers({ all: true, filters: { label: labelled('io.bulkhead.role=volume-init') } });
    // The supervisor takes the job applied above; its helper is gone once the volume is the tenant's.
    const deadline = Date.now() + 30_000;
    while ((await volumes()).length === 0 || (await helpers()).length > 0) {
      if (Date.now() > deadline) expect.fail('no volume readied for quebec within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(
      await ns.docker.listContainers({
        all: true,
        filters: { label: labelled('io.bulkhead.tenant=quebec') },
      }),
    ).toEqual([]);
    // Its first start finds the volume made: the tenant's runtime writes to it.
    const quebec = await cp.registry.require('quebec');
    const { info } = await supervisor.manager.ensureRuntime(quebec);
    const root = await execIn(ns.docker, info.runtimeId, ['stat', '-c', '%u %a', '/data']);
    expect(root.output.trim()).toBe(`${quebec.uid} 700`);
    await supervisor.manager.remove('quebec', true);
  });

  it('refuses to apply over a change made after the plan', async () => {
    const { yaml } = await exportTenants(cp, ['oscar']);
    const plan = await planApply(cp, parseTenantsYaml(yaml.replace('Oscar SE', 'Oscar KG'), 'late.yaml'));
    await updateTenant(cp, 'oscar', { displayName: 'Oscar Ltd' }, { progress() {} });
    const conflict = await failure(applyPlan(cp, plan, { reason: 'late' }));
    expect(isBulkheadError(conflict, 'generation_conflict')).toBe(true);
    expect((await cp.registry.require('oscar')).displayName).toBe('Oscar Ltd');
  });

  it('refuses malformed YAML, a tenant listed twice and unknown fields as invalid input (exit 2)', () => {
    const cases = [
      'apiVersion: bulkhead/v1\ntenants:\n  - id: oscar\n    plan: [unclosed\n',
      'apiVersion: bulkhead/v1\ntenants: []\nextra: 1\n',
    ];
    for (const text of cases) {
      let caught: unknown;
      try {
        parseTenantsYaml(text, 'bad.yaml');
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ApplyInputError);
      expect(exitCodeOf(caught)).toBe(2);
    }
    expect(exitCodeOf(new UsageError('bad flag'))).toBe(2);
  });
});

describe('secrets', () => {
  it('stores the value encrypted and only its reference in the record, as a new generation', async () => {
    const before = await cp.registry.require('quebec');
    const ref = await setSecret(cp, 'quebec', 'CRM_TOKEN', 'value-never-in-the-record');
    expect(ref).toBe('secret://quebec/CRM_TOKEN');
    const after = await cp.registry.require('quebec');
    expect(after.generation).toBe(before.generation + 1);
    expect(after.secrets).toEqual([{ name: 'CRM_TOKEN', ref }]);
    expect(JSON.stringify(after)).not.toContain('value-never-in-the-record');
    expect(await cp.secrets.names('quebec')).toEqual(['CRM_TOKEN']);
    const badName = await failure(setSecret(cp, 'quebec', 'crm-token', 'x'));
    expect(isBulkheadError(badName, 'invalid_input')).toBe(true);
  });
});

describe('offboarding', () => {
  it('keeps the record of a tenant made active again after its purge', async () => {
    const id = 'resumed-late';
    await cp.registry.create({ id, plan: planByName('small'), isolation: 'runc', status: 'suspended' });
    // Another operator's resume (or an apply) lands between the purge and the record's delete: the
    // tenant's calls would bring up a runtime and a volume that a deleted record leaves to no one.
    const racing = {
      ...cp,
      runtimes: Object.assign(Object.create(cp.runtimes) as typeof cp.runtimes, {
        remove: async (...args: Parameters<typeof cp.runtimes.remove>) => {
          await cp.runtimes.remove(...args);
          if (!args[1].purgeData) return;
          const now = await cp.registry.require(id);
          await cp.registry.update(id, {
            expectedGeneration: now.generation,
            changes: { status: 'active' },
            author: { actor: 'other-operator', reason: 'resume' },
          });
        },
      }),
    };
    const auditDir = join(ns.runDir, 'offboard-late');
    const outcome = await failure(offboardTenant(racing, id, { auditDir, drainMs: 50 }, () => {}));
    expect(isBulkheadError(outcome, 'generation_conflict')).toBe(true);
    expect((await cp.registry.get(id))?.status).toBe('active');
  });
});

describe('a tenant id registered again after its offboarding', () => {
  it('an apply that planned the id as new leaves the trail of a tenant registered since then alone', async () => {
    const id = 'raced';
    const yaml = `apiVersion: bulkhead/v1
tenants:
  - { id: ${id}, displayName: ${id}, plan: ${JSON.stringify(planByName('small'))}, isolation: runc, status: suspended }
`;
    const plan = await planApply(cp, parseTenantsYaml(yaml, 'raced.yaml'));
    expect(plan[0]?.current).toBeUndefined();
    // Another operator's onboarding lands between the plan and its apply, and its tenant is called.
    await cp.registry.create({ id, plan: planByName('small'), isolation: 'runc' }, { actor: 'other' });
    for (const user of ['alice', 'bob'])
      await cp.audit.append({
        tenant: id,
        user,
        agent: null,
        tool: 'whoami',
        decision: 'permit',
        reason: 'test',
      });
    const outcome = await failure(applyPlan(cp, plan, { reason: 'apply raced.yaml' }));
    expect(isBulkheadError(outcome, 'tenant_exists')).toBe(true);
    const { entries, check } = await cp.audit.read(id);
    expect(entries.map((e) => [e.seq, e.user])).toEqual([
      [1, 'alice'],
      [2, 'bob'],
    ]);
    expect(check.ok).toBe(true);
  });

  it("starts a trail of its own: the earlier tenant's entries left in Redis are set aside, under their expiry", async () => {
    const id = 'reused';
    const prefix = ns.installation.registryPrefix;
    const redis = new Redis(ns.installation.redis);
    const entry = (user: string) =>
      cp.audit.append({ tenant: id, user, agent: null, tool: 'whoami', decision: 'permit', reason: 'test' });
    try {
      const first = await onboardTenant(
        cp,
        { id, plan: 'small', isolation: 'runc', verify: false },
        () => {},
      );
      await entry('old-alice');
      await entry('old-bob');
      await cp.evidence!.save(
        {
          tenantId: id,
          runtimeId: 'earlier',
          isolation: 'runc',
          checkedAt: new Date().toISOString(),
          pass: true,
          checks: [],
        },
        first.tenant.createdAt,
      );

      // No signing key here: nothing is sealed, and the trail stays in Redis under its retention.
      const auditDir = join(ns.runDir, 'offboard-exports');
      await offboardTenant(cp, id, { auditDir, drainMs: 50 }, () => {});
      expect(await redis.ttl(auditStreamKey(prefix, id))).toBeGreaterThan(0);

      const said: string[] = [];
      const again = await onboardTenant(cp, { id, plan: 'small', isolation: 'runc', verify: false }, (line) =>
        said.push(line),
      );
      expect(said.join('\n')).toMatch(/earlier tenant "reused" left 2 audit entries in Redis: kept apart/);
      // No evidence until the new tenant is verified: the earlier one's report went with it.
      expect(await cp.evidence!.latest(id, again.tenant.createdAt)).toBeNull();
      await entry('new-carol');
      const { entries, check } = await cp.audit.read(id);
      expect(entries.map((e) => [e.seq, e.user])).toEqual([[1, 'new-carol']]);
      expect(check.ok).toBe(true);
      // The new trail has no expiry; the earlier one keeps the retention its offboarding gave it.
      expect(await redis.ttl(auditStreamKey(prefix, id))).toBe(-1);
      const aside = await redis.keys(`${auditAsideKey(prefix, id, 0).replace(/:0$/, '')}:*`);
      expect(aside).toHaveLength(2);
      for (const key of aside) {
        expect(await redis.ttl(key)).toBeGreaterThan(364 * 86_400);
        expect(await redis.ttl(key)).toBeLessThanOrEqual(365 * 86_400);
      }
      const stream = aside.find((key) => !key.endsWith(':head'))!;
      expect(await redis.xlen(stream)).toBe(2);
    } finally {
      await offboardTenant(cp, id, { auditDir: join(ns.runDir, 'offboard-exports'), drainMs: 50 }, () => {});
      redis.disconnect();
    }
  }, 120_000);
});
