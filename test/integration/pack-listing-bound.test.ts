// What the runtime holds of a pack's listing (kernel/packs/pack-listing.ts, read by
// runtime-image/src/packs/pack-process.ts): one page a request, the four lists together bounded by
// a message's bound, as the approval sandbox reads them. The SDK client's own list method walks up
// to 64 pages of a message's bound each and holds them all: a pack whose listing outgrew what its
// approval saw, once in the tenant's container, grew the runtime that serves the tenant's other
// packs and the records tools. Real pack processes on this machine (no container), the runtime's
// pack host.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PackHost } from '../../runtime-image/src/packs/pack-host.ts';
import { PackKeys } from '../../runtime-image/src/packs/pack-keys.ts';
import { hostCaller, hostPacks } from '../support/pack-host.ts';
import { approvePack } from '../support/pack-image.ts';

const BOUND = 1024 * 1024;
let dir: string;
let keys: PackKeys;
const hosts: PackHost[] = [];

/** A started pack host of `dir`'s own subdirectory `name`. */
async function started(name: string, packs: Parameters<typeof hostPacks>[1]): Promise<PackHost> {
  const host = await hostPacks(join(dir, name), packs, { maxMessageBytes: BOUND });
  hosts.push(host);
  await host.start();
  return host;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pack-listing-bound-'));
  keys = new PackKeys(join(dir, 'keys.db'), { idempotencyWindowMs: 60_000 });
});

afterAll(async () => {
  keys?.close();
  await Promise.all(hosts.map((host) => host.stop()));
  await rm(dir, { recursive: true, force: true });
});

describe("a pack's listing in the runtime", () => {
  it('is read page by page: a tool on its last page is served', async () => {
    const host = await started('small', [await approvePack('pager')]);
    const { call } = hostCaller(host, keys, 5_000);
    const answer = await call('pager_ok');
    expect(answer.structuredContent).toEqual({ ok: true });
  }, 30_000);

  it("is refused past a message's bound in all, its pages each under it: the pack is not started, the tenant's other packs serve on", async () => {
    const pager = await approvePack('pager');
    // 40 pages of 64 KiB: 2.5 MiB, each page a sixteenth of the bound.
    const grown = { ...pager, command: ['node', 'server.mjs', '40', String(64 * 1024)] };
    const host = await started('grown', [grown, await approvePack('notes')]);
    const process = host.packs.find((pack) => pack.name === 'pager')!;
    const ready = await process.ready();
    expect(ready).toMatchObject({
      code: 'pack_unavailable',
      message: expect.stringContaining(`the pack lists more than ${BOUND} bytes`) as string,
    });
    expect(process.listing.tools).toEqual([]);
    expect(host.servedTools().map(({ wire }) => wire.name)).not.toContain('pager_ok');
    const { call } = hostCaller(host, keys, 5_000);
    const notes = await call('notes_list');
    expect(notes.isError).toBeUndefined();
  }, 30_000);
});
