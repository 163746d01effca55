// Restarts the shared Docker engine the way .ci/setup.sh starts it (no systemd here): SIGTERM to
// dockerd, wait until it is gone, then `setsid nohup dockerd` again and wait until it answers.
// Without live-restore every container stops. Only tests in test/disruptive/ may use this; they
// run in their own vitest invocation after the main suite.
import { spawn, execFileSync } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';

function dockerdPid(): number | undefined {
  try {
    const out = execFileSync('pidof', ['dockerd'], { encoding: 'utf8' }).trim();
    return out ? Number(out.split(/\s+/)[0]) : undefined;
  } catch {
    return undefined;
  }
}

async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export async function restartDockerEngine(docker: Docker): Promise<void> {
  const pid = dockerdPid();
  if (pid === undefined) throw new Error('dockerd is not running');
  process.kill(pid, 'SIGTERM');
  await until('dockerd to exit', () => dockerdPid() !== pid, 90_000);
  // Another session may have started it again meanwhile; start it only if nobody did.
  if (dockerdPid() === undefined) {
    const stateDir = process.env.BULKHEAD_STATE_DIR ?? '/var/lib/bulkhead';
    await mkdir(stateDir, { recursive: true });
    const log = openSync(join(stateDir, 'dockerd.log'), 'a');
    const child = spawn('setsid', ['nohup', 'dockerd'], { detached: true, stdio: ['ignore', log, log] });
    child.unref();
  }
  await until(
    'dockerd to answer',
    () =>
      docker.ping().then(
        () => true,
        () => false,
      ),
    90_000,
  );
}
