// The runtime freezer's own logic on both cgroup versions, over a scratch cgroup tree (this host has
// cgroup v1 only, so v2 is shown here; test/integration/runtime-freezer.test.ts freezes real
// containers): what it reads as frozen, what it writes to freeze and thaw, a freeze undone when the
// kernel does not complete it in time, the engine asked where no cgroup is within reach (and asked
// again while its OCI runtime could not freeze every process), and which of the engine's unpause
// refusals mean the container runs already (and only while the engine reports it running).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import type { HostCgroup } from '../../supervisor/docker/host-cgroup.ts';
import { RuntimeFreezer } from '../../supervisor/docker/runtime-freezer.ts';

const root = mkdtempSync(join(tmpdir(), 'bulkhead-freezer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const info = (id: string): Docker.ContainerInspectInfo =>
  ({
    Id: id,
    Name: `/${id}`,
    State: { Running: true, Paused: false, Pid: 4242 },
  }) as Docker.ContainerInspectInfo;

/** A container whose only engine call allowed is the one named; every other throws. */
function engine(id: string, allowed?: 'pause' | 'unpause'): Docker.Container & { calls: string[] } {
  const calls: string[] = [];
  const call = (name: 'pause' | 'unpause') => () => {
    calls.push(name);
    return name === allowed
      ? Promise.resolve()
      : Promise.reject(new Error(`the engine was asked to ${name}`));
  };
  return { id, calls, pause: call('pause'), unpause: call('unpause') } as unknown as Docker.Container & {
    calls: string[];
  };
}

function cgroupDir(version: 1 | 2, id: string, files: Record<string, string>): HostCgroup {
  const dir = join(root, `v${version}`, id);
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, version };
}

describe('the runtime freezer', () => {
  it('on cgroup v2: reads cgroup.freeze, freezes once cgroup.events says frozen, thaws with 0', async () => {
    const cgroup = cgroupDir(2, 'a'.repeat(64), {
      'cgroup.freeze': '0\n',
      'cgroup.events': 'populated 1\nfrozen 0\n',
    });
    const freezer = new RuntimeFreezer({ root, locate: () => Promise.resolve(cgroup) });
    const container = engine('a'.repeat(64));
    expect(await freezer.pausedBy(info(container.id))).toBeUndefined();
    // The kernel's part: the events file reports the freeze complete.
    writeFileSync(join(cgroup.dir, 'cgroup.events'), 'populated 1\nfrozen 1\n');
    await freezer.freeze(container, info(container.id));
    expect(readFileSync(join(cgroup.dir, 'cgroup.freeze'), 'utf8')).toBe('1');
    expect(await freezer.pausedBy(info(container.id))).toBe('host');
    await freezer.thaw(container, 'host');
    expect(readFileSync(join(cgroup.dir, 'cgroup.freeze'), 'utf8')).toBe('0');
    expect(container.calls).toEqual([]);
  });

  it('on cgroup v1: FREEZING counts as frozen (a wake must thaw it), FROZEN completes a freeze', async () => {
    const cgroup = cgroupDir(1, 'b'.repeat(64), { 'freezer.state': 'FREEZING\n' });
    const freezer = new RuntimeFreezer({ root, locate: () => Promise.resolve(cgroup) });
    const container = engine('b'.repeat(64));
    expect(await freezer.pausedBy(info(container.id))).toBe('host');
    await freezer.thaw(container, 'host');
    expect(readFileSync(join(cgroup.dir, 'freezer.state'), 'utf8')).toBe('THAWED');
    expect(await freezer.pausedBy(info(container.id))).toBeUndefined();
    // Written FROZEN, read back FROZEN (the scratch file holds what was written): complete.
    await freezer.freeze(container, info(container.id));
    expect(readFileSync(join(cgroup.dir, 'freezer.state'), 'utf8')).toBe('FROZEN');
  });

  it('undoes a freeze the kernel does not complete within the deadline, and says so', async () => {
    const cgroup = cgroupDir(2, 'c'.repeat(64), { 'cgroup.freeze': '0', 'cgroup.events': 'frozen 0\n' });
    const freezer = new RuntimeFreezer({ root, locate: () => Promise.resolve(cgroup), deadlineMs: 50 });
    const container = engine('c'.repeat(64));
    await expect(freezer.freeze(container, info(container.id))).rejects.toMatchObject({
      code: 'runtime_failed',
      message: expect.stringContaining('not frozen within 50 ms'),
    });
    expect(readFileSync(join(cgroup.dir, 'cgroup.freeze'), 'utf8')).toBe('0');
    expect(await freezer.pausedBy(info(container.id))).toBeUndefined();
  });

  it('asks the engine where no cgroup is within reach, and leaves what the engine paused to it', async () => {
    const freezer = new RuntimeFreezer({ root, locate: () => Promise.resolve(undefined) });
    const paused = engine('d'.repeat(64), 'pause');
    await freezer.freeze(paused, info(paused.id));
    expect(paused.calls).toEqual(['pause']);
    const byEngine = { ...info(paused.id), State: { Running: true, Paused: true, Pid: 4242 } };
    expect(await freezer.pausedBy(byEngine as Docker.ContainerInspectInfo)).toBe('engine');
    const unpaused = engine('d'.repeat(64), 'unpause');
    await freezer.thaw(unpaused, 'engine');
    expect(unpaused.calls).toEqual(['unpause']);
  });

  it('refuses to thaw in a cgroup it cannot find', async () => {
    const freezer = new RuntimeFreezer({ root, locate: () => Promise.resolve(undefined) });
    const container = Object.assign(engine('e'.repeat(64)), {
      inspect: () => Promise.resolve(info('e'.repeat(64))),
    });
    await expect(freezer.thaw(container, 'host')).rejects.toMatchObject({ code: 'runtime_failed' });
  });
});

describe('an engine pause its OCI runtime could not complete', () => {
  // runc's words when some process did not freeze in its time (seen in CI, a runtime just started on
  // a loaded host): it thawed them again; the pause may be asked again.
  const unable = () =>
    Object.assign(
      new Error(
        '(HTTP code 500) server error - Cannot pause container x: OCI runtime pause failed: unable to freeze: unknown',
      ),
      { statusCode: 500 },
    );
  /** Refuses its first `refusals` pauses with `error()`, then pauses. */
  const pausing = (refusals: number, error: () => Error) => {
    const calls: string[] = [];
    const container = {
      id: 'g'.repeat(64),
      pause: () => (
        calls.push('pause'),
        calls.length <= refusals ? Promise.reject(error()) : Promise.resolve()
      ),
    } as unknown as Docker.Container;
    return { container, calls };
  };
  const noCgroup = () =>
    new RuntimeFreezer({ root, locate: () => Promise.resolve(undefined), deadlineMs: 1_000 });

  it('is asked again, and the freeze succeeds once the engine pauses', async () => {
    const { container, calls } = pausing(2, unable);
    await noCgroup().freeze(container, info(container.id));
    expect(calls).toEqual(['pause', 'pause', 'pause']);
  });

  it('fails past the deadline, and any other refusal at once', async () => {
    const always = pausing(Infinity, unable);
    const quick = new RuntimeFreezer({ root, locate: () => Promise.resolve(undefined), deadlineMs: 0 });
    await expect(quick.freeze(always.container, info(always.container.id))).rejects.toThrow(
      /unable to freeze/,
    );
    const other = pausing(1, () =>
      Object.assign(new Error('Container x is not running'), { statusCode: 409 }),
    );
    await expect(noCgroup().freeze(other.container, info(other.container.id))).rejects.toThrow(/not running/);
    expect(other.calls).toEqual(['pause']);
  });
});

describe('an engine unpause of a container its OCI runtime finds not paused', () => {
  // The engine's words, as it answered here (docker 20.10) for each runtime; anything else fails.
  const refusal = (message: string, statusCode = 500) => Object.assign(new Error(message), { statusCode });
  const id = 'f'.repeat(64);
  const runcWords = `Cannot unpause container ${id}: OCI runtime resume failed: container not paused: unknown`;
  /** Refuses the unpause with `error`; inspected, reports `state` (the engine's flag still set). */
  const refusing = (error: Error, state: Partial<Docker.ContainerInspectInfo['State']>) =>
    ({
      id,
      unpause: () => Promise.reject(error),
      inspect: () => Promise.resolve({ Id: id, State: { Running: true, Paused: true, ...state } }),
    }) as unknown as Docker.Container;

  it.each([
    ['runc', runcWords],
    [
      'runsc',
      `Cannot unpause container ${id}: OCI runtime resume failed: resume failed: cannot resume container "${id}" in state running: unknown`,
    ],
  ])('is a thaw done where the engine reports it running (%s)', async (_runtime, message) => {
    const container = refusing(refusal(message), {});
    await expect(new RuntimeFreezer().thaw(container, 'engine')).resolves.toBe('thawed');
  });

  // runc says the same of a container whose process ended while the engine had it paused (a kill
  // racing the wake: seen on the real engine, a few times in 30, with the engine reporting it
  // exited right after): not a runtime woken, and the wake fails as for a runtime gone.
  it('is no thaw where the engine reports it stopped', async () => {
    const error = refusal(runcWords);
    const container = refusing(error, { Running: false, Paused: false, Status: 'exited' });
    await expect(new RuntimeFreezer().thaw(container, 'engine')).rejects.toBe(error);
  });

  it('fails on any other refusal', async () => {
    for (const error of [
      refusal(`Cannot unpause container ${id}: OCI runtime resume failed: permission denied: unknown`),
      refusal(`Cannot unpause container ${id}: cannot resume a stopped container: unknown`),
      refusal('container not paused', 409),
    ]) {
      const container = refusing(error, {});
      await expect(new RuntimeFreezer().thaw(container, 'engine')).rejects.toBe(error);
    }
  });
});
