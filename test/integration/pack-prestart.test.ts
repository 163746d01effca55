// The hand-off of a pack process started by the image's entry (runtime-image/src/packs/prestarted.ts)
// to the pack transport, with real child processes on this machine: adopted only when launched
// exactly as the transport would launch it; any other is killed, never spoken to; one that ended
// before adoption is a failed start, as a spawn that fails is.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnPack, type PackLaunch } from '../../runtime-image/src/packs/pack-launch.ts';
import { PACK_LINE_BUDGET } from '../../runtime-image/src/packs/pack-stdout.ts';
import { PackTransport } from '../../runtime-image/src/packs/pack-transport.ts';
import {
  discardPrestarted,
  offerPrestarted,
  takePrestarted,
} from '../../runtime-image/src/packs/prestarted.ts';

let dir: string;
// A pack that answers one JSON-RPC ping with its own pid, then waits for more.
const ANSWER_PID =
  "process.stdin.on('data', (line) => { const { id } = JSON.parse(line); " +
  "process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id, result: { pid: process.pid } }) + '\\n'); });";

const launch = (env: Record<string, string> = {}): PackLaunch => ({
  command: process.execPath,
  args: ['-e', ANSWER_PID],
  env: { PATH: '/usr/bin:/bin', HOME: dir, ...env },
  cwd: dir,
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  return !alive(pid);
}

function transport(of: PackLaunch): PackTransport {
  return new PackTransport({
    ...of,
    maxMessageBytes: 64 * 1024,
    onOutput: () => undefined,
    budget: PACK_LINE_BUDGET,
    onDropped: () => undefined,
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pack-prestart-'));
});

afterEach(() => discardPrestarted());

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('prestarted pack processes', () => {
  it('are adopted when launched exactly as the transport launches: the same process answers', async () => {
    const early = spawnPack(launch());
    offerPrestarted(launch(), early, false);
    const pack = transport(launch());
    const answer = new Promise<unknown>((resolve) => (pack.onmessage = resolve));
    await pack.start();
    expect(pack.adopted).toBe(true);
    expect(pack.pid).toBe(early.pid);
    await pack.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(await answer).toMatchObject({ id: 1, result: { pid: early.pid } });
    await pack.close();
    expect(await gone(early.pid!)).toBe(true);
  });

  it('are never adopted when launched otherwise (one variable more), and are killed', async () => {
    const early = spawnPack(launch({ INJECTED: 'yes' }));
    offerPrestarted(launch({ INJECTED: 'yes' }), early, false);
    expect(takePrestarted(launch())).toBeUndefined();
    expect(takePrestarted({ ...launch({ INJECTED: 'yes' }), args: ['-e', '0'] })).toBeUndefined();
    const pack = transport(launch());
    await pack.start();
    expect(pack.adopted).toBe(false);
    expect(pack.pid).not.toBe(early.pid);
    await pack.close();
    expect(discardPrestarted()).toBe(1);
    expect(await gone(early.pid!)).toBe(true);
  });

  it('that ended before adoption make the start fail as a pack that exits at once does', async () => {
    const dead = { ...launch(), args: ['-e', 'process.exit(3)'] };
    const early = spawnPack(dead);
    const entry = offerPrestarted(dead, early, false);
    await new Promise((resolve) => early.once('exit', resolve));
    expect(entry.exited).toBe(true);
    const pack = transport(dead);
    const closed = new Promise<void>((resolve) => (pack.onclose = resolve));
    await pack.start();
    expect(pack.adopted).toBe(true);
    await closed;
    await expect(pack.send({ jsonrpc: '2.0', id: 1, method: 'ping' })).rejects.toThrow('not running');
  });

  it('whose launch failed report the spawn error to the adopting transport', async () => {
    const missing = { ...launch(), command: join(dir, 'no-such-launcher') };
    offerPrestarted(missing, spawnPack(missing), false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(transport(missing).start()).rejects.toThrow('ENOENT');
  });
});
