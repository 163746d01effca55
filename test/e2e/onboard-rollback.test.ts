// Onboarding is all or nothing: when the engine refuses to create the container part-way (here: the
// supervisor is configured with a runtime image that does not exist, after the volume was made),
// `onboard` leaves no registry record, volume or container behind, and a re-run succeeds.
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSupervisor, type RunningSupervisor } from '../../supervisor/supervisor.ts';
import { ensureCallKeys } from '../../tenants/control-plane/call-keys.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { runCli } from '../support/cli.ts';
import { RUNTIME_IMAGE, testNamespace, type TestNamespace } from '../support/namespace.ts';

let ns: TestNamespace;
let redis: Redis;
let registry: TenantRegistry;
let supervisor: RunningSupervisor | undefined;

async function startWith(image: string): Promise<void> {
  await supervisor?.close();
  const keys = await ensureCallKeys(join(ns.runDir, 'keys'));
  supervisor = await startSupervisor({
    installation: ns.installation,
    runDir: join(ns.runDir, 'run'),
    image,
    routerPublicKeyFile: keys.publicKeyFile,
    routerGid: 0,
    logger: pino({ level: 'silent' }),
  });
}

async function leftovers(): Promise<{ containers: number; volumes: number }> {
  const filters = { label: [`io.bulkhead.namespace=${ns.namespace}`] };
  const containers = await ns.docker.listContainers({ all: true, filters });
  const { Volumes } = await ns.docker.listVolumes({ filters });
  return { containers: containers.length, volumes: (Volumes ?? []).length };
}

beforeAll(async () => {
  ns = await testNamespace('rollback');
  redis = new Redis(ns.installation.redis);
  registry = new TenantRegistry({ redis, prefix: ns.installation.registryPrefix });
});

afterAll(async () => {
  await supervisor?.close();
  redis?.disconnect();
  await ns?.cleanup();
});

describe('onboarding rollback', () => {
  it('leaves no record, volume or container when the engine refuses to create the container', async () => {
    await startWith(`bulkhead/runtime:absent-${ns.namespace}`);
    const result = await runCli({ namespace: ns.namespace, devDir: ns.runDir }, ['onboard', 'hotel']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('creating the data volume and starting the hardened container');
    expect(result.stdout).toContain('rolling back');
    expect(result.stdout).toContain('rolled back: no record, container or volume left');
    expect(result.stderr).toMatch(/error: .*(No such image|no such image|not found)/i);
    expect(await registry.get('hotel')).toBeUndefined();
    expect(await registry.list()).toEqual([]);
    expect(await leftovers()).toEqual({ containers: 0, volumes: 0 });
    // The attempt is in the change log: created, then suspended (before the purge, so that an ensure
    // still queued makes nothing after it) and removed by the rollback.
    expect((await registry.history('hotel')).map((e) => [e.action, e.reason])).toEqual([
      ['create', 'onboard'],
      ['update', 'onboard rolled back: suspend'],
      ['delete', 'onboard rolled back'],
    ]);
  });

  it('succeeds when re-run once the engine can create the container', async () => {
    await startWith(RUNTIME_IMAGE);
    const result = await runCli({ namespace: ns.namespace, devDir: ns.runDir }, ['onboard', 'hotel']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Tenant hotel is ready');
    expect((await registry.get('hotel'))?.generation).toBe(1);
    // Its data volume and its disk's (supervisor/docker/tenant-disk.ts).
    expect(await leftovers()).toEqual({ containers: 1, volumes: 2 });
  });
});
