// Every test run gets its own namespace: container names, labels, volumes, socket directories and
// Redis keys all carry it, so parallel files and helper sessions on one engine never collide.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { LABELS } from '../../supervisor/docker/labels.ts';
import { framesText } from '../../supervisor/docker/engine-frames.ts';
import { installation, type Installation } from '../../kernel/tenant/installation.ts';
import { redisUrl } from '../../kernel/config/common.ts';

/**
 * The development stack's Redis: BULKHEAD_REDIS_URL, else the unix socket of the Redis .ci/setup.sh
 * starts (the rule setup.sh's redis_url_of_stack exports for the stack), else the configuration's
 * default (loopback TCP).
 */
export const REDIS_URL = process.env.BULKHEAD_REDIS_URL ?? developmentRedisUrl();

function developmentRedisUrl(): string {
  const socket = join(process.env.BULKHEAD_STATE_DIR ?? '/var/lib/bulkhead', 'redis', 'redis.sock');
  return statSync(socket, { throwIfNoEntry: false })?.isSocket()
    ? `unix://${socket}`
    : redisUrl.schema.parse(undefined);
}
const run = promisify(execFile);

export const RUNTIME_IMAGE = process.env.BULKHEAD_RUNTIME_IMAGE ?? 'bulkhead/runtime:latest';

export interface TestNamespace {
  namespace: string;
  installation: Installation;
  runDir: string;
  docker: Docker;
  cleanup(): Promise<void>;
}

/** `redisUrl`: a Redis of the test's own (test/support/private-redis.ts) instead of the shared one. */
export async function testNamespace(label: string, redisUrl = REDIS_URL): Promise<TestNamespace> {
  const namespace = `t-${label}-${randomBytes(3).toString('hex')}`.slice(0, 31);
  const runDir = await mkdtemp(join(tmpdir(), `bulkhead-${namespace}-`));
  const docker = new Docker();
  const inst = installation({ namespace, redisUrl });
  return {
    namespace,
    installation: inst,
    runDir,
    docker,
    async cleanup() {
      const filters = { label: [`${LABELS.namespace}=${namespace}`] };
      const containers = await docker.listContainers({ all: true, filters });
      await Promise.all(
        containers.map((c) =>
          docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined),
        ),
      );
      // Tenant disks left attached (a test that removed no tenant): detached before their volumes
      // go, which would otherwise keep the loop devices and the images' space until the host restarts.
      await detachDisks(namespace);
      const { Volumes } = await docker.listVolumes({ filters });
      await Promise.all(
        (Volumes ?? []).map((v) =>
          docker
            .getVolume(v.Name)
            .remove()
            .catch(() => undefined),
        ),
      );
      await rm(runDir, { recursive: true, force: true });
      const redis = new Redis(inst.redis);
      const keys = await redis.keys(`${inst.registryPrefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
}

/** Every loop device holding an image of the namespace's tenants (tenant-disk.ts names them), detached. */
export async function detachDisks(namespace: string): Promise<void> {
  const devices = await readdir('/sys/block').catch(() => []);
  for (const name of devices.filter((n) => /^loop\d+$/.test(n))) {
    const file = await readFile(`/sys/block/${name}/loop/backing_file`, 'utf8').catch(() => '');
    // `/bulkhead-<namespace>-<tenant>-data.img`, or a benchmark's own placement under the namespace.
    if (file.includes(`${namespace}-`)) await run('losetup', ['-d', `/dev/${name}`]).catch(() => undefined);
  }
}

/** Runs a command in a container and returns its exit code and output. */
export async function execIn(
  docker: Docker,
  containerId: string,
  cmd: string[],
): Promise<{ exitCode: number; output: string }> {
  const exec = await docker
    .getContainer(containerId)
    .exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise((resolve) => stream.on('end', resolve));
  const { ExitCode } = await exec.inspect();
  return { exitCode: ExitCode ?? -1, output: framesText(Buffer.concat(chunks)) };
}
