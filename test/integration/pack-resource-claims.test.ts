// Resource routing between packs, with the pack host's real child processes on this machine (no
// container) behind the runtime's pack surface: a hostile pack placed before the notes pack in
// enabled.json claims notes URIs by listing one and by a template whose fixed prefix covers others.
// Such a URI is refused as a conflict and never reaches either pack, whichever packs the caller
// reaches; the notes pack's other URIs still reach it alone; an answer that carries a URI of
// another pack is refused; listed items carry the pack that listed them, whatever it claimed.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport, Server } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { PACK_META_KEY } from '../../kernel/packs/pack-naming.ts';
import type { PackHost } from '../../runtime-image/src/packs/pack-host.ts';
import { PackReach } from '../../runtime-image/src/packs/pack-reach.ts';
import { installPackSurface, PACK_CAPABILITIES } from '../../runtime-image/src/packs/pack-surface.ts';
import { hostPacks } from '../support/pack-host.ts';
import { approvePack } from '../support/pack-image.ts';

let dir: string;
let host: PackHost;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pack-claims-'));
  // The hostile pack first: the order in which the runtime used to look for a URI's pack.
  host = await hostPacks(dir, [await approvePack('squatter'), await approvePack('notes')]);
  await host.start();
  for (const title of ['one', 'two']) await callPack('notes', 'write', { title, body: `note ${title}` });
});

afterAll(async () => {
  await host?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function callPack(pack: string, tool: string, args: Record<string, unknown> = {}) {
  const client = await host.packs.find((p) => p.name === pack)!.ready();
  if ('code' in client) throw new Error(client.message);
  return (await client.callTool({ name: tool, arguments: args })).structuredContent;
}

/** What reached the hostile pack so far. */
const squatterSaw = async () => ((await callPack('squatter', 'seen')) as { seen: string[] }).seen;

/** A client of the runtime's pack surface for a caller whose signed context names `packs`. */
async function caller(packs: string[]): Promise<Client> {
  const server = new Server({ name: 'runtime', version: '1.0.0' }, { capabilities: PACK_CAPABILITIES });
  installPackSurface(server, {
    host,
    reach: new PackReach(host.packs, packs),
    callTimeoutMs: 5_000,
    connection: new AbortController().signal,
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'router', version: '1.0.0' });
  await client.connect(clientSide);
  onTestFinished(async () => {
    await client.close();
    await server.close();
  });
  return client;
}

const conflict = (packs: string[], unreachable = 0) => ({
  code: -32602,
  data: { code: 'resource_conflict', details: { packs, unreachable } },
});

describe('resources two packs claim', () => {
  it('refuses a URI that another pack lists or covers with a template; the claimants get nothing', async () => {
    const client = await caller(['notes', 'squatter']);
    // notes://readme: listed by both. notes://note/one: both templates' fixed prefixes cover it.
    for (const uri of ['notes://readme', 'notes://note/one'])
      await expect(client.readResource({ uri })).rejects.toMatchObject(conflict(['squatter', 'notes']));
    expect(await squatterSaw()).toEqual([]);
    // What one pack alone claims still reaches it: the notes pack's other notes, the squatter's own.
    expect((await client.readResource({ uri: 'notes://note/two' })).contents).toEqual([
      { uri: 'notes://note/two', mimeType: 'text/plain', text: 'note two' },
    ]);
    expect((await client.readResource({ uri: 'squat://own' })).contents[0]).toMatchObject({
      text: 'squatter',
    });
    expect(await squatterSaw()).toEqual(['squat://own']);
  });

  it('refuses it as well to a caller who reaches the hostile pack alone, naming no other pack', async () => {
    const client = await caller(['squatter']);
    await expect(client.readResource({ uri: 'notes://readme' })).rejects.toMatchObject(
      conflict(['squatter'], 1),
    );
    // The notes pack's unclaimed URIs are another pack's: as for a URI no pack serves.
    await expect(client.readResource({ uri: 'notes://note/two' })).rejects.toMatchObject({
      data: { code: 'unknown_resource' },
    });
    const honest = await caller(['notes']);
    await expect(honest.readResource({ uri: 'notes://note/one' })).rejects.toMatchObject(
      conflict(['notes'], 1),
    );
    expect(await squatterSaw()).toEqual(['squat://own']);
  });

  it("refuses an answer that carries another pack's URI", async () => {
    const client = await caller(['notes', 'squatter']);
    await expect(client.readResource({ uri: 'squat://forge' })).rejects.toMatchObject({
      data: { code: 'resource_conflict' },
      message: expect.stringContaining('answered the read of squat://forge with notes://note/two'),
    });
  });

  it('lists each item under the pack that listed it, whatever it put in _meta', async () => {
    const client = await caller(['notes', 'squatter']);
    const listed = (await client.listResources()).resources.map((r) => [r.uri, r._meta?.[PACK_META_KEY]]);
    expect(listed).toEqual([
      ['notes://readme', 'squatter'],
      ['squat://own', 'squatter'],
      ['squat://forge', 'squatter'],
      ['notes://readme', 'notes'],
    ]);
    const completion = await client.complete({
      ref: { type: 'ref/resource', uri: 'notes://note/{title}' },
      argument: { name: 'title', value: 'al' },
    });
    expect(completion.completion.values).toEqual(['alpha']);
  });
});
