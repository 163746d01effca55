// Restarting the supervisor: reconciliation from labels adopts the running tenants, removes an
// orphan (no such tenant), a duplicate (a second container labelled for one tenant) and a leftover
// helper, so exactly one container per active tenant remains, and calls resume.
import { attachHelper, buildDiskHelperSpec } from '../../supervisor/docker/tenant-disk.ts';
import { RUNTIME_IMAGE } from '../support/namespace.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildContainerSpec } from '../../supervisor/docker/container-spec.ts';
import { agentClient, containerId, tenantContainers, write } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import { tenantRecord } from '../support/tenant.ts';

let stack: TestStack;

beforeAll(async () => {
  // No grace for helpers: this test plants an abandoned one and nothing else creates volumes meanwhile.
  stack = await startTestStack('reconcile', {
    supervisor: { healthIntervalMs: 3_600_000, helperGraceMs: 0 },
  });
  await Promise.all([stack.onboard('keep-one'), stack.onboard('keep-two')]);
});

afterAll(async () => {
  await stack?.close();
});

describe('reconciliation after a supervisor restart', () => {
  it('leaves exactly one container per active tenant, no orphans, and calls resume', async () => {
    const clients = await Promise.all([agentClient(stack, 'keep-one'), agentClient(stack, 'keep-two')]);
    for (const client of clients) expect((await write(client, 'before')).ok).toBe(true);
    const ids = [await containerId(stack, 'keep-one'), await containerId(stack, 'keep-two')];

    const { driver, manager } = stack.supervisor;
    // An orphan: a running container for a tenant the registry does not know.
    await driver.ensure(manager.specFor(tenantRecord('ghost', { uid: 100_999 })), { generation: 1 });
    // A duplicate for keep-one under another name, and a volume-init helper left by a crash.
    const keepOne = await stack.registry.require('keep-one');
    const placement = driver.placement('keep-one', 7);
    await stack.ns.docker.createContainer(
      buildContainerSpec(manager.specFor(keepOne), {
        ...placement,
        containerName: `${placement.containerName}-dup`,
      }),
    );
    await stack.ns.docker.createContainer(
      buildDiskHelperSpec(attachHelper(manager.specFor(keepOne), placement, RUNTIME_IMAGE)),
    );
    expect((await tenantContainers(stack)).length).toBe(4);

    await stack.restartSupervisor();

    const remaining = await tenantContainers(stack);
    expect(remaining.map((c) => c.tenant).sort()).toEqual(['keep-one', 'keep-two']);
    expect(remaining.every((c) => c.state === 'running')).toBe(true);
    const helpers = await stack.ns.docker.listContainers({
      all: true,
      filters: { label: [`io.bulkhead.namespace=${stack.ns.namespace}`, 'io.bulkhead.role=volume-init'] },
    });
    expect(helpers).toEqual([]);
    // Adopted, not replaced: the same containers serve the next calls.
    expect([await containerId(stack, 'keep-one'), await containerId(stack, 'keep-two')]).toEqual(ids);
    for (const client of clients) expect((await write(client, 'after')).ok).toBe(true);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('recycles a runtime whose socket directory vanished', async () => {
    const client = await agentClient(stack, 'keep-two');
    const before = await containerId(stack, 'keep-two');
    const { rm } = await import('node:fs/promises');
    await rm(stack.supervisor.driver.placement('keep-two', 0).socketDir, { recursive: true, force: true });
    const report = await stack.supervisor.reconcile();
    expect(report.socketDirsRecreated).toEqual(['keep-two']);
    expect(await stack.supervisor.driver.socketDirExists('keep-two')).toBe(true);
    expect(await containerId(stack, 'keep-two')).not.toBe(before);
    expect((await write(client, 'after-socket-loss')).ok).toBe(true);
    await client.close();
  });
});
