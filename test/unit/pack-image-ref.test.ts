// A pack version's image reference is one the engine accepts: Docker's tag grammar (a word
// character, then up to 127 of word characters, "." and "-") has no "+", which semver's build
// metadata uses, and no leading "." or "-". Two versions never share a tag.
import { describe, expect, it } from 'vitest';
import { packImage, PackVersionSchema } from '../../kernel/packs/pack-manifest.ts';

/** The tag grammar of the engine's reference parser (distribution/reference, `tag`). */
const DOCKER_TAG = /^[\w][\w.-]{0,127}$/;

describe('packImage', () => {
  it('makes a tag the engine accepts of every version a manifest may name, each its own', () => {
    const versions = ['1.0.0', '1.0.0+build.7', '2.0.0-rc.1+sha.5114f85', 'v1', '1.0.0+build-7'];
    const tags = versions.map((version) => packImage({ name: 'notes', version }).split(':')[1] ?? '');
    for (const tag of tags) expect(tag).toMatch(DOCKER_TAG);
    expect(new Set(tags).size).toBe(versions.length);
  });

  it('refuses a version no tag can start with', () => {
    for (const version of ['.1', '-rc', '+build', ''])
      expect(PackVersionSchema.safeParse(version).success).toBe(false);
    expect(PackVersionSchema.safeParse('1.2.3-rc.1+b.9').success).toBe(true);
  });
});
