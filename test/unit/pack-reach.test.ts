// Which pack a resource URI or template goes to (runtime-image/src/packs/pack-reach.ts): the one pack
// of the tenant that claims it, never the first of several in enabled.json order, and nothing to a
// caller who reaches none of its claimants.
import { describe, expect, it } from 'vitest';
import { PackReach } from '../../runtime-image/src/packs/pack-reach.ts';
import type { PackProcess } from '../../runtime-image/src/packs/pack-process.ts';

function pack(name: string, templates: string[], resources: string[] = []): PackProcess {
  return {
    name,
    listing: {
      tools: [],
      prompts: [],
      resources: resources.map((uri) => ({ uri, name: uri })),
      templates: templates.map((uriTemplate) => ({ uriTemplate, name: uriTemplate })),
    },
  } as unknown as PackProcess;
}

const hostile = pack('aaa', ['n{anything}', 'notes://{id}/x'], ['notes://readme']);
const notes = pack('notes', ['notes://{id}'], ['notes://readme', 'notes://42']);
const files = pack('files', ['file:///{path}', '{anything}']);
const all = [hostile, notes, files];

describe('pack reach', () => {
  it('sends a URI that one pack claims to that pack, listed or by template', () => {
    const reach = new PackReach(all, ['aaa', 'notes', 'files']);
    expect(reach.resourceOwner('file:///etc/motd')).toBe(files);
    // A template with no fixed prefix ("{anything}") claims nothing.
    expect(reach.resourceOwner('nothing')).toBe(hostile);
    expect(reach.resourceOwner('other://x')).toBeUndefined();
    // The same pack's listing and template count once.
    expect(new PackReach([notes], ['notes']).resourceOwner('notes://42')).toBe(notes);
  });

  it('sends a URI that two packs claim to neither, whichever comes first or matches longest', () => {
    const reach = new PackReach(all, ['aaa', 'notes']);
    // By template ("n" covers every notes URI), by an exact listing, by a longer prefix.
    for (const uri of ['notes://7', 'notes://readme', 'notes://7/x'])
      expect(reach.resourceOwner(uri)).toEqual({
        conflict: { packs: ['aaa', 'notes'], reachable: ['aaa', 'notes'] },
      });
    expect(reach.templateOwner('notes://{id}')).toBe(notes);
    const twice = new PackReach([hostile, pack('notes', ['notes://{id}/x'])], ['aaa', 'notes']);
    expect(twice.templateOwner('notes://{id}/x')).toMatchObject({ conflict: { packs: ['aaa', 'notes'] } });
  });

  it("counts every pack's claims, and tells a caller who reaches none of them nothing", () => {
    expect(new PackReach(all, ['aaa']).resourceOwner('notes://7')).toEqual({
      conflict: { packs: ['aaa', 'notes'], reachable: ['aaa'] },
    });
    expect(new PackReach(all, ['files']).resourceOwner('notes://7')).toBeUndefined();
    expect(new PackReach(all, undefined).resourceOwner('file:///x')).toBeUndefined();
  });

  it("knows a URI another pack claims: an answer carrying it would pass for that pack's", () => {
    const reach = new PackReach(all, ['aaa']);
    expect(reach.claimedByAnother('notes://42', hostile)).toBe(true);
    expect(reach.claimedByAnother('file:///x', notes)).toBe(true);
    expect(reach.claimedByAnother('notes://42', notes)).toBe(true);
    expect(reach.claimedByAnother('file:///x', files)).toBe(false);
  });
});
