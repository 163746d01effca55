// The tenant runtime image run directly with testcontainers (no supervisor), hardened as the
// supervisor runs it: no network, the tenant's own uid, no capabilities, no new privileges, a small
// /tmp, and the two directories it binds (/run/mcp for its socket, /data for its volume) made here,
// owned by that uid, mode 0700.
import { chmod, chown, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenericContainer } from 'testcontainers';
import { LABELS } from '../../supervisor/docker/labels.ts';
import { RUNTIME_IMAGE } from './namespace.ts';

/** A new directory holding `run/` and `data/`, owned by `uid`: the caller removes it. */
export async function runtimeDirs(prefix: string, uid: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  for (const sub of ['run', 'data']) {
    await mkdir(join(dir, sub));
    await chown(join(dir, sub), uid, uid);
    await chmod(join(dir, sub), 0o700);
  }
  return dir;
}

export function hardenedRuntime(options: {
  uid: number;
  /** From runtimeDirs. */
  dir: string;
  /** The test's namespace label (LABELS.namespace). */
  namespace: string;
  environment: Record<string, string>;
}): GenericContainer {
  const { uid, dir } = options;
  return new GenericContainer(RUNTIME_IMAGE)
    .withNetworkMode('none')
    .withUser(`${uid}:${uid}`)
    .withDroppedCapabilities('ALL')
    .withSecurityOpt('no-new-privileges:true')
    .withTmpFs({ '/tmp': 'rw,size=16m' })
    .withLabels({ [LABELS.namespace]: options.namespace })
    .withBindMounts([
      { source: join(dir, 'run'), target: '/run/mcp' },
      { source: join(dir, 'data'), target: '/data' },
    ])
    .withEnvironment(options.environment);
}
