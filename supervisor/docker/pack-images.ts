// Tool pack images on this engine (only the supervisor holds the Docker socket): building a pack's
// versioned image offline, and starting a pack once in the approval sandbox to read what it lists.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/client';
import type Docker from 'dockerode';
import type { PackListing } from '../../kernel/packs/pack-approval.ts';
import {
  PACK_CLIENT_CAPABILITIES,
  PACK_MANIFEST_FILE,
  packImage,
  PackManifestSchema,
  type PackManifest,
  packRejected,
} from '../../kernel/packs/pack-manifest.ts';
import type { PackJobValue } from '../client/pack-jobs.ts';
import { PACKS_DIR } from '../../kernel/packs/enabled-packs.ts';
import { listPack } from '../../kernel/packs/pack-listing.ts';
import { StderrTail } from '../../kernel/packs/pack-stderr.ts';
import { buildPackSandboxSpec } from './container-spec.ts';
import { LineTransport } from './stdio-transport.ts';

/** The manifest travels with the image as a label, so an approval reads exactly what was built. */
export const PACK_MANIFEST_LABEL = 'io.bulkhead.pack.manifest';
const BASE_LABEL = 'org.opencontainers.image.base.name';

/** The base of the runtime image (the label runtime-image/Dockerfile sets): what packs build on. */
export async function packBaseImage(docker: Docker, runtimeImage: string): Promise<string> {
  const info = await docker.getImage(runtimeImage).inspect();
  const base = info.Config.Labels?.[BASE_LABEL];
  if (!base)
    throw packRejected(`the runtime image ${runtimeImage} does not name its base (label ${BASE_LABEL})`);
  return base;
}

function dockerfile(manifest: PackManifest): string {
  const target = `${PACKS_DIR}/${manifest.name}`;
  return [
    'ARG BASE',
    'FROM ${BASE}',
    `COPY pack/ ${target}/`,
    // Root-owned, readable by every UID (a tenant's), writable by none of them.
    `RUN chown -R 0:0 ${target} && chmod -R u=rwX,go=rX ${target}`,
    'USER 65532:65532',
    '',
  ].join('\n');
}

/** Reads the engine's build stream; a failed step is an error with the builder's message. */
async function followBuild(docker: Docker, stream: NodeJS.ReadableStream, progress: (line: string) => void) {
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null, output: { error?: string }[]) => {
        const failed = error?.message ?? output.find((o) => o.error)?.error;
        if (failed) reject(packRejected(`docker build failed: ${failed}`));
        else resolve();
      },
      (event: { stream?: string }) => {
        const line = event.stream?.trim();
        if (line) progress(line);
      },
    );
  });
}

/** `docker build --network none` of a pack on the runtime's base: the pack's files and nothing fetched. */
export async function buildPackImage(
  docker: Docker,
  options: { dir: string; base: string; progress: (line: string) => void },
): Promise<{ ref: string; id: string; manifest: PackManifest }> {
  const context = await mkdtemp(join(tmpdir(), 'bulkhead-pack-'));
  try {
    // Links as they are: without verbatimSymlinks a relative link (npm's node_modules/.bin) is
    // rewritten to the absolute path of its target on this host, which the image does not have.
    await cp(options.dir, join(context, 'pack'), {
      recursive: true,
      dereference: false,
      verbatimSymlinks: true,
    });
    const manifest = PackManifestSchema.parse(
      JSON.parse(await readFile(join(context, 'pack', PACK_MANIFEST_FILE), 'utf8')),
    );
    await writeFile(join(context, 'Dockerfile'), dockerfile(manifest));
    const ref = packImage(manifest);
    const stream = await docker.buildImage(
      { context, src: ['Dockerfile', 'pack'] },
      {
        t: ref,
        networkmode: 'none',
        forcerm: true,
        buildargs: { BASE: options.base },
        labels: {
          'io.bulkhead.pack.name': manifest.name,
          'io.bulkhead.pack.version': manifest.version,
          [PACK_MANIFEST_LABEL]: JSON.stringify(manifest),
        },
      },
    );
    await followBuild(docker, stream, options.progress);
    const id = (await docker.getImage(ref).inspect()).Id;
    return { ref, id, manifest };
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}

export interface SandboxListing {
  image: { ref: string; id: string };
  manifest: PackManifest;
  listing: PackListing;
}

/** The lines of a pack's stderr an approval's failure shows, each cut at PACK_STDERR_LINE_LIMIT. */
export const SANDBOX_STDERR_LINES = 10;

function stderrSection(stderr: StderrTail): string {
  const { tail, lines } = stderr;
  if (tail.length === 0) return '';
  const heading =
    lines > tail.length ? `its stderr, the last ${tail.length} of ${lines} lines` : 'its stderr';
  return `\n  ${heading}:\n${tail.join('\n')}`;
}

/**
 * Starts the pack once in the sandbox (buildPackSandboxSpec), speaks MCP over its stdio and returns
 * what it lists; the container is removed whatever happens. Its stderr comes back in a failure's
 * message (the last lines, each cut), so an operator sees why a pack did not start.
 */
export async function listInSandbox(
  docker: Docker,
  /** `maxMessageBytes`: the most of one message, and of the whole listing (its lists and pages). */
  options: { ref: string; namespace: string; timeoutMs: number; maxMessageBytes: number },
): Promise<SandboxListing> {
  const imageInfo = await docker.getImage(options.ref).inspect();
  const raw = imageInfo.Config.Labels?.[PACK_MANIFEST_LABEL];
  if (!raw) throw packRejected(`${options.ref} is not a pack image (no ${PACK_MANIFEST_LABEL} label)`);
  const manifest = PackManifestSchema.parse(JSON.parse(raw));
  const container = await docker.createContainer(
    buildPackSandboxSpec({
      image: imageInfo.Id,
      pack: manifest.name,
      command: manifest.command,
      name: `bulkhead-${options.namespace}-pack-sandbox-${manifest.name}-${Date.now().toString(36)}`,
      namespace: options.namespace,
    }),
  );
  // Only what a failure's message shows: the pack may write to stderr for as long as the listing
  // lasts (a timeout per request, up to 50 pages of each list), into the supervisor's memory.
  const stderr = new StderrTail(SANDBOX_STDERR_LINES);
  // The capabilities the tenant runtime's client declares (PACK_CLIENT_CAPABILITIES says why).
  const client = new Client(
    { name: 'bulkhead-pack-approval', version: '1.0.0' },
    { capabilities: PACK_CLIENT_CAPABILITIES },
  );
  try {
    const stream = await container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    });
    const out = new PassThrough();
    const err = new PassThrough();
    docker.modem.demuxStream(stream, out, err);
    err.setEncoding('utf8');
    err.on('data', (chunk: string) => stderr.write(chunk));
    await container.start();
    const transport = new LineTransport({
      input: out,
      output: stream as unknown as Writable,
      maxLineBytes: options.maxMessageBytes,
    });
    const timeout = { timeout: options.timeoutMs };
    await client.connect(transport, timeout);
    // One page a request, the listing bounded by the message size (kernel/packs/pack-listing.ts).
    const listing = await listPack({
      capabilities: client.getServerCapabilities() ?? {},
      maxBytes: options.maxMessageBytes,
      page: (method, cursor) => client.request({ method, params: cursor ? { cursor } : {} }, timeout),
    });
    return {
      image: { ref: options.ref, id: imageInfo.Id },
      manifest,
      listing,
    };
  } catch (error) {
    throw packRejected(
      `the pack did not answer MCP in the sandbox: ${(error as Error).message}${stderrSection(stderr)}`,
      error,
    );
  } finally {
    await client.close().catch(() => undefined);
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** The pack jobs' engine side (supervisor/jobs/pack-worker.ts), on one engine and runtime image. */
export class PackImages {
  private readonly options: {
    docker: Docker;
    runtimeImage: string;
    namespace: string;
    sandboxTimeoutMs: number;
  };

  constructor(options: {
    docker: Docker;
    runtimeImage: string;
    namespace: string;
    sandboxTimeoutMs?: number;
  }) {
    this.options = { sandboxTimeoutMs: 20_000, ...options };
  }

  async build(dir: string): Promise<PackJobValue<'build'>> {
    const { docker, runtimeImage } = this.options;
    const base = await packBaseImage(docker, runtimeImage);
    const log: string[] = [];
    const built = await buildPackImage(docker, { dir, base, progress: (line) => log.push(line) });
    const steps = log.filter((line) => line.startsWith('Step ') || line.startsWith('Successfully'));
    return { ...built, base, log: steps };
  }

  list(ref: string): Promise<PackJobValue<'list'>> {
    return listInSandbox(this.options.docker, {
      ref,
      namespace: this.options.namespace,
      timeoutMs: this.options.sandboxTimeoutMs,
      maxMessageBytes: 4 * 1024 * 1024,
    });
  }
}
