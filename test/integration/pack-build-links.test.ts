// A pack's symbolic links reach its image as the pack has them: a relative link (npm's
// node_modules/.bin entries are such) still names its target beside it, and no link names a path
// of the supervisor's host. On the real engine, through the supervisor's build (PackImages). Before,
// the copy into the build context rewrote every relative link to the absolute path of its target
// on the host: broken in the image, and a record of where the operator keeps the pack.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PackImages } from '../../supervisor/docker/pack-images.ts';
import { RUNTIME_IMAGE } from '../support/namespace.ts';
import { removeImage } from '../support/pack-image.ts';

const docker = new Docker();
const name = `links-${randomBytes(4).toString('hex')}`;
let dir: string;
let ref: string | undefined;

/** What `sh -c script` prints in a container of the image (no network), stdout and stderr. */
async function inImage(image: string, script: string): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const [, container] = (await docker.run(image, ['sh', '-c', script], out, {
    Entrypoint: [],
    HostConfig: { NetworkMode: 'none' },
  })) as [unknown, Docker.Container];
  await container.remove({ force: true });
  return text.replaceAll('\r\n', '\n'); // a terminal's line ends (docker.run attaches one)
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-pack-links-'));
  const manifest = { name, version: '1.0.0', command: ['python3', 'server.py'], tools: {} };
  await writeFile(join(dir, 'bulkhead-pack.json'), JSON.stringify(manifest));
  await writeFile(join(dir, 'server.py'), 'print("the server")\n');
  await mkdir(join(dir, 'node_modules', '.bin'), { recursive: true });
  await symlink('../../server.py', join(dir, 'node_modules', '.bin', 'server'));
  const images = new PackImages({ docker, runtimeImage: RUNTIME_IMAGE, namespace: 'unit' });
  ref = (await images.build(dir)).ref;
}, 180_000);

afterAll(async () => {
  if (ref) await removeImage(ref);
  await rm(dir, { recursive: true, force: true });
});

it('keeps a relative link relative, and it reaches its target in the image', async () => {
  const link = `/opt/bulkhead/packs/${name}/node_modules/.bin/server`;
  const shown = await inImage(ref!, `readlink ${link}; cat ${link}`);
  expect(shown).toContain('../../server.py\n');
  expect(shown).toContain('print("the server")');
  expect(shown).not.toContain(dir);
}, 60_000);
