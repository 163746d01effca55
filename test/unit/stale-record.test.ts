// A request about a tenant's runtime carries the record read when it was made; an update (plan,
// isolation, packs: `tenants update`, `tenants apply`) may land while it waits for the tenant's
// image or lock. The runtime is made from the registry's record read under the lock, with the image
// of that record's pins; an ensure asked with an update's record does not take the result of one in
// flight on the earlier record (tenant-gate.ts). The per-tenant images are kept on the later
// record's pins whichever of two overlapping prepares ends last (tenant-images.ts).
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import type { PackPin } from '../../kernel/packs/pack-manifest.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { TENANT_IMAGE_REPO, TenantImages } from '../../supervisor/docker/tenant-images.ts';
import { specHash } from '../../supervisor/runtime/runtime-spec.ts';
import { MemoryDriver } from '../support/fakes/memory-driver.ts';
import { MemoryImages } from '../support/fakes/memory-images.ts';
import { memoryController } from '../support/lifecycle-settings.ts';
import { notesApproval } from '../support/pack-approval.ts';
import { tenantRecord } from '../support/tenant.ts';
import { until } from '../support/until.ts';

const createdAt = new Date().toISOString();
/** acme's record at a generation, with the `notes` pack at `version` (none without). */
const acme = (generation: number, changes: { version?: string; memoryMb?: number } = {}): TenantRecord =>
  tenantRecord('acme', {
    createdAt,
    generation,
    packs: changes.version ? [{ name: 'notes', version: changes.version, agentsAlone: false }] : [],
    plan: { name: 'small', memoryMb: changes.memoryMb ?? 128, cpus: 0.5, pids: 64, tmpMb: 16 },
  });

/**
 * A controller over a registry holding `record`, with per-tenant images the test can hold, and
 * health probes it can hold (a runtime starting).
 */
function setup(record: TenantRecord) {
  const driver = new MemoryDriver();
  const records = new Map([['acme', record]]);
  const images = new MemoryImages();
  let answering = Promise.resolve();
  const runtimes = memoryController(
    {
      driver,
      probe: () => answering.then(() => true),
      registry: { get: (id) => Promise.resolve(records.get(id)) },
      images,
    },
    { healthTimeoutMs: 5_000 },
  );
  /** The runtime of the tenant on the engine: its spec and image. */
  const running = () => driver.runtimes.get('acme');
  const holdProbes = (): (() => void) => {
    let release!: () => void;
    answering = new Promise((resolve) => (release = resolve));
    return release;
  };
  return { driver, records, images, runtimes, running, holdProbes };
}

describe('a request whose record an update overtook', () => {
  it('an ensure asked with the update’s record gets a runtime of it, not the one in flight on the earlier record', async () => {
    const s = setup(acme(1));
    const answer = s.holdProbes();
    const earlier = s.runtimes.ensureRuntime(acme(1));
    // The earlier ensure has read the registry and created its runtime, which has not answered yet.
    await until(
      () => s.driver.calls.some((c) => c.op === 'ensure'),
      'the earlier ensure to create its runtime',
      1,
    );
    s.records.set('acme', acme(2, { memoryMb: 256 }));
    const asked = s.runtimes.ensureRuntime(acme(2, { memoryMb: 256 }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    answer();
    const updated = await asked;
    const spec = specHash(s.runtimes.specFor(acme(2, { memoryMb: 256 })));
    expect(updated.info.specHash).toBe(spec);
    expect(s.running()?.specHash).toBe(spec);
    await earlier;
  });

  it('a stale ensure that waited for its image hands out the runtime made for the update, not a replacement', async () => {
    const s = setup(acme(1, { version: '1.0.0' }));
    const release = s.images.hold(MemoryImages.refOf(acme(1, { version: '1.0.0' })));
    const stale = s.runtimes.ensureRuntime(acme(1, { version: '1.0.0' }));
    s.records.set('acme', acme(2, { version: '1.1.0' }));
    const updated = await s.runtimes.ensureRuntime(acme(2, { version: '1.1.0' }));
    release();
    expect((await stale).info.runtimeId).toBe(updated.info.runtimeId);
    expect(s.running()).toMatchObject({
      runtimeId: updated.info.runtimeId,
      image: MemoryImages.refOf(acme(2, { version: '1.1.0' })),
    });
    expect(s.driver.calls.filter((c) => c.op === 'ensure')).toHaveLength(1);
  });

  it('an ensure asked with an earlier record runs the registry’s pins, their image prepared under the lock', async () => {
    const s = setup(acme(2, { version: '1.1.0' }));
    await s.runtimes.ensureRuntime(acme(1, { version: '1.0.0' }));
    const now = MemoryImages.refOf(acme(2, { version: '1.1.0' }));
    expect(s.running()?.image).toBe(now);
    expect(s.images.prepares).toEqual([MemoryImages.refOf(acme(1, { version: '1.0.0' })), now]);
  });

  it('a recycle asked with an earlier record brings the runtime up on the registry’s', async () => {
    const s = setup(acme(1));
    await s.runtimes.ensureRuntime(acme(1));
    s.records.set('acme', acme(2, { memoryMb: 256 }));
    await s.runtimes.recycle(acme(1), 'spec changed');
    expect(s.running()?.specHash).toBe(specHash(s.runtimes.specFor(acme(2, { memoryMb: 256 }))));
  });
});

describe('the per-tenant images of overlapping prepares', () => {
  it('keeps the later record’s pins when the earlier record’s prepare ends last', async () => {
    let releaseEarlier!: () => void;
    const earlierApproved = new Promise<void>((resolve) => (releaseEarlier = resolve));
    const approval = (pin: PackPin) => ({
      ...notesApproval({ name: 'notes_add', inputSchema: { type: 'object' } }),
      version: pin.version,
      image: { ref: `bulkhead/pack-notes:${pin.version}`, id: `sha256:notes-${pin.version}` },
    });
    // An engine with every image present: pack images with the approved ids, the runtime image.
    const docker = {
      getImage: (ref: string) => ({
        inspect: () =>
          Promise.resolve({
            Id: ref.startsWith('bulkhead/pack-notes:') ? `sha256:notes-${ref.split(':')[1]}` : ref,
          }),
      }),
    } as unknown as Docker;
    const images = new TenantImages({
      docker,
      runtimeImage: 'bulkhead/runtime:test',
      approvals: {
        require: async (pin) => {
          if (pin.version === '1.0.0') await earlierApproved;
          return approval(pin);
        },
      },
    });
    const earlier = images.prepare(acme(1, { version: '1.0.0' }));
    await images.prepare(acme(2, { version: '1.1.0' }));
    releaseEarlier();
    await earlier;
    expect(images.imageFor(acme(2, { version: '1.1.0' }))).toMatch(new RegExp(`^${TENANT_IMAGE_REPO}:`));
    expect(images.imageFor(acme(1, { version: '1.0.0' }))).toBeUndefined();
  });
});
