// A stand-in engine for the approval sandbox (listInSandbox): its one image is the notes pack's, and
// its one container's stdio is the test's: `stdin` receives what the supervisor writes, and `demux`
// is handed the streams the supervisor reads the pack's stdout and stderr from.
import { readFileSync } from 'node:fs';
import type { PassThrough, Writable } from 'node:stream';
import type Docker from 'dockerode';
import { PACK_MANIFEST_LABEL } from '../../supervisor/docker/pack-images.ts';

export function sandboxEngine(options: {
  id: string;
  stdin: Writable;
  demux: (stdout: PassThrough, stderr: PassThrough) => void;
}): Docker {
  const manifest = JSON.parse(readFileSync('examples/packs/notes/bulkhead-pack.json', 'utf8')) as object;
  const container = {
    attach: () => Promise.resolve(options.stdin),
    start: () => Promise.resolve(),
    remove: () => Promise.resolve(),
  };
  return {
    getImage: () => ({
      inspect: () =>
        Promise.resolve({
          Id: options.id,
          Config: { Labels: { [PACK_MANIFEST_LABEL]: JSON.stringify(manifest) } },
        }),
    }),
    createContainer: () => Promise.resolve(container),
    modem: {
      demuxStream: (_stream: unknown, out: PassThrough, err: PassThrough) => options.demux(out, err),
    },
  } as unknown as Docker;
}
