// Two installations on one engine whose names collide: namespace N with tenant `zz-acme` and
// namespace `N-zz` with tenant `acme` both name their container `bulkhead-N-zz-acme` and their
// volume `bulkhead-N-zz-acme-data`, and both installations hand out the same first UID. The second
// installation must neither mount, nor stop, remove or destroy what the first one's tenant owns,
// also when both make their tenants' first volume in the same moment.
import { attachHelper, buildDiskHelperSpec } from '../../supervisor/docker/tenant-disk.ts';
import { generateKeyPairSync } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { volumeInitName } from '../../supervisor/docker/container-spec.ts';
import { DockerDriver } from '../../supervisor/docker/docker-driver.ts';
import { readyTenantVolume } from '../../supervisor/docker/tenant-volume.ts';
import { LABELS } from '../../supervisor/docker/labels.ts';
import type { RuntimeSpec } from '../../supervisor/runtime/runtime-driver.ts';
import { PLANS } from '../../kernel/tenant/tenant-spec.ts';
import { RUNTIME_IMAGE, testNamespace, type TestNamespace } from '../support/namespace.ts';

let ns: TestNamespace;
let first: DockerDriver;
let second: DockerDriver;
let secondNamespace: string;

const logger = pino({ level: 'silent' });
const { publicKey } = generateKeyPairSync('ed25519', {
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

function spec(tenantId: string): RuntimeSpec {
  // The same UID on both sides: each installation's first tenant gets 100001.
  return {
    tenantId,
    uid: 100_001,
    image: RUNTIME_IMAGE,
    isolation: 'runc',
    plan: PLANS.small,
    env: { BULKHEAD_ROUTER_PUBLIC_KEY: publicKey },
  };
}

beforeAll(async () => {
  ns = await testNamespace('collide');
  secondNamespace = `${ns.namespace}-zz`;
  first = new DockerDriver({
    toolImage: RUNTIME_IMAGE,
    namespace: ns.namespace,
    runDir: ns.runDir,
    routerGid: 0,
    logger,
  });
  second = new DockerDriver({
    toolImage: RUNTIME_IMAGE,
    namespace: secondNamespace,
    runDir: ns.runDir,
    routerGid: 0,
    logger,
  });
});

afterAll(async () => {
  const filters = { label: [`${LABELS.namespace}=${secondNamespace}`] };
  for (const c of await ns.docker.listContainers({ all: true, filters }))
    await ns.docker.getContainer(c.Id).remove({ force: true });
  for (const v of (await ns.docker.listVolumes({ filters })).Volumes ?? [])
    await ns.docker.getVolume(v.Name).remove();
  await ns.cleanup();
});

async function volumeExists(name: string): Promise<boolean> {
  return (
    (await ns.docker.listVolumes({ filters: { name: [name] } })).Volumes?.some((v) => v.Name === name) ??
    false
  );
}

async function secondsContainers(): Promise<number> {
  const filters = { label: [`${LABELS.namespace}=${secondNamespace}`] };
  return (await ns.docker.listContainers({ all: true, filters })).length;
}

describe('names that two installations share', () => {
  it('the same names', () => {
    expect(first.placement('zz-acme', 0).volumeName).toBe(second.placement('acme', 0).volumeName);
    expect(first.placement('zz-acme', 0).containerName).toBe(second.placement('acme', 0).containerName);
  });

  it("another installation's volume under the tenant's name is not mounted", async () => {
    await first.prepareVolume(spec('zz-acme'));
    const volume = first.placement('zz-acme', 0).volumeName;
    await expect(second.ensure(spec('acme'), { generation: 1 })).rejects.toThrow(
      /volume .* is not tenant acme's .*its labels say namespace t-collide-[0-9a-f]+, tenant zz-acme/,
    );
    expect(await secondsContainers()).toBe(0);
    expect(await volumeExists(volume)).toBe(true);
  });

  it("another installation's volume under the tenant's name is not destroyed by an offboarding's purge", async () => {
    await first.prepareVolume(spec('zz-acme'));
    const volume = first.placement('zz-acme', 0).volumeName;
    await expect(second.remove('acme', { purgeData: true })).rejects.toThrow(
      `data volume ${volume} (not ours)`,
    );
    expect(await volumeExists(volume)).toBe(true);
  });

  it("another installation's container under the tenant's name is neither stopped nor removed", async () => {
    await first.ensure(spec('zz-acme'), { generation: 1 });
    const name = first.placement('zz-acme', 0).containerName;
    await expect(second.stop('acme', { graceSeconds: 0 })).rejects.toThrow(
      /container .* is not tenant acme's/,
    );
    await expect(second.remove('acme', { purgeData: false })).rejects.toThrow(/is not tenant acme's/);
    const info = await ns.docker.getContainer(name).inspect();
    expect(info.Config.Labels[LABELS.namespace]).toBe(ns.namespace);
    expect(info.State.Running).toBe(true);
  });

  // Both installations make their colliding tenants' first volume within the same moment: the
  // other's create lands between this one's look for a helper and a volume, and its own create.
  function racedBy(other: () => Promise<unknown>): Docker {
    return Object.assign(Object.create(ns.docker) as Docker, {
      createContainer: async (options: Docker.ContainerCreateOptions) => {
        await other();
        return ns.docker.createContainer(options);
      },
    });
  }

  it("another installation's volume-init helper made in the same moment is not run", async () => {
    const theirs = first.placement('zz-beta', 0);
    const docker = racedBy(() =>
      ns.docker.createContainer(buildDiskHelperSpec(attachHelper(spec('zz-beta'), theirs, RUNTIME_IMAGE))),
    );
    const ready = readyTenantVolume({
      docker,
      spec: spec('beta'),
      placement: second.placement('beta', 0),
      toolImage: RUNTIME_IMAGE,
    });
    await expect(ready).rejects.toThrow(/container .*-volinit is not tenant beta's/);
    expect((await ns.docker.getContainer(volumeInitName(theirs)).inspect()).State.Status).toBe('created');
    expect(await secondsContainers()).toBe(0);
  });

  it("another installation's volume made in the same moment is neither initialised nor mounted", async () => {
    const theirs = first.placement('zz-gamma', 0);
    const docker = racedBy(() => first.prepareVolume(spec('zz-gamma')));
    const ready = readyTenantVolume({
      docker,
      spec: spec('gamma'),
      placement: second.placement('gamma', 0),
      toolImage: RUNTIME_IMAGE,
    });
    await expect(ready).rejects.toThrow(/volume .* is not tenant gamma's/);
    // This installation's helper, made mounting that volume, is removed, never started.
    expect(await secondsContainers()).toBe(0);
    expect(await volumeExists(theirs.volumeName)).toBe(true);
  });
});
