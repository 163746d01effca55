// What the runtime holds for a pack that does not read its stdin (runtime-image/src/packs/
// pack-transport.ts): past a message's bound unread, answers and notifications to it are not
// written; past STDIN_BACKLOG_MESSAGES bounds of requests unread, the pack is killed, instead of
// everything sent to it being held without end. A pack that reads what it is sent is neither.
// Real child processes on this machine, the transport the runtime uses.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JSONRPCMessage } from '@modelcontextprotocol/client';
import { PACK_LINE_BUDGET } from '../../runtime-image/src/packs/pack-stdout.ts';
import { PackTransport, STDIN_BACKLOG_MESSAGES } from '../../runtime-image/src/packs/pack-transport.ts';

const BOUND = 64 * 1024;
const DEAF = 'setInterval(() => undefined, 60_000);';
let dir: string;

/** A pack of `script` run by this Node, its errors kept. */
function pack(script: string): { transport: PackTransport; errors: Error[]; closed: Promise<void> } {
  const errors: Error[] = [];
  const transport = new PackTransport({
    ...{ command: process.execPath, args: ['-e', script] },
    ...{ env: { PATH: '/usr/bin:/bin', HOME: dir }, cwd: dir },
    ...{ maxMessageBytes: BOUND, budget: PACK_LINE_BUDGET },
    onOutput: () => undefined,
    onDropped: () => undefined,
  });
  transport.onerror = (error) => void errors.push(error);
  const closed = new Promise<void>((resolve) => (transport.onclose = resolve));
  return { transport, errors, closed };
}

/** Messages of about 16 KiB each, requests (with an id) or answers to the pack's own requests. */
const message = (i: number, kind: 'request' | 'answer'): JSONRPCMessage =>
  kind === 'request'
    ? {
        jsonrpc: '2.0',
        id: i,
        method: 'tools/call',
        params: { name: 't', arguments: { x: 'x'.repeat(16_384) } },
      }
    : { jsonrpc: '2.0', id: i, result: { x: 'x'.repeat(16_384) } };

/** Sends `count` messages without waiting for the pack to read them; how many were refused. */
async function send(transport: PackTransport, count: number, kind: 'request' | 'answer'): Promise<number> {
  const sent = await Promise.allSettled(
    Array.from({ length: count }, (_, i) =>
      Promise.race([
        transport.send(message(i, kind)),
        // A send the pack has not read waits for a drain that may not come: not a refusal.
        new Promise<void>((resolve) => setTimeout(resolve, 1_000)),
      ]),
    ),
  );
  return sent.filter((s) => s.status === 'rejected').length;
}

/** The bytes the transport holds for the pack's stdin. */
const unread = (transport: PackTransport): number =>
  (transport as unknown as { child: { stdin: { writableLength: number } } }).child.stdin.writableLength;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pack-stdin-bound-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a pack that does not read its stdin', () => {
  it("is written no more answers past a message's bound unread, and lives", async () => {
    const { transport, errors } = pack(DEAF);
    await transport.start();
    // 200 answers of 16 KiB (3.2 MiB): the pipe takes 64 KiB, the transport holds about a bound more.
    expect(await send(transport, 200, 'answer')).toBe(0);
    expect(unread(transport)).toBeLessThanOrEqual(BOUND + 20_000);
    expect(errors).toEqual([]);
    await transport.close();
  });

  it('is killed past its bound of requests unread, and what is sent after is refused', async () => {
    const { transport, errors, closed } = pack(DEAF);
    await transport.start();
    // 40 requests of 16 KiB: 640 KiB, past the pipe (64 KiB) and STDIN_BACKLOG_MESSAGES bounds.
    expect(STDIN_BACKLOG_MESSAGES * BOUND).toBeLessThan(40 * 16_384 - 64 * 1024);
    expect(await send(transport, 40, 'request')).toBeGreaterThan(0);
    expect(errors.map((e) => e.message).join('\n')).toMatch(
      new RegExp(
        `a pack that does not read its stdin: \\d+ bytes unread, over ${STDIN_BACKLOG_MESSAGES * BOUND}`,
      ),
    );
    await closed;
    await expect(transport.send(message(0, 'request'))).rejects.toThrow('pack is not running');
  });
});

describe('a pack that reads what it is sent', () => {
  it('is sent a burst of requests and answers whole, and lives', async () => {
    const { transport, errors } = pack(
      "let bytes = 0; process.stdin.on('data', (chunk) => { bytes += chunk.length; });",
    );
    await transport.start();
    expect(await send(transport, 12, 'request')).toBe(0);
    expect(await send(transport, 12, 'answer')).toBe(0);
    expect(errors).toEqual([]);
    await transport.close();
  });
});
