// A hostile pack flooding its stdout with small notifications during a call, on this machine (the
// pack host and the faulty pack's real process, no container): the runtime hands its MCP client no
// more of them than the pack's line budget (runtime-image/src/packs/pack-stdout.ts), drops the rest
// unparsed and says so, and the call's answer, written after the flood, still arrives from the same
// pack process; a flood dressed as answers (each line carrying an "id") is paced, not dropped
// wholesale, and its answer arrives too.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { PackAnswer } from '../../runtime-image/src/packs/pack-exchanges.ts';
import { PackKeys } from '../../runtime-image/src/packs/pack-keys.ts';
import type { LineBudget } from '../../runtime-image/src/packs/pack-stdout.ts';
import { hostCaller, hostPacks } from '../support/pack-host.ts';
import { approvePack } from '../support/pack-image.ts';

const CALL_TIMEOUT_MS = 60_000;
/** The faulty pack's flood (test/support/fixtures/packs/faulty/server.mjs): blocks of these, 6 MiB. */
const FLOOD_LINE = `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'f'.repeat(40) } })}\n`;
const PER_BLOCK = Math.floor(65_536 / FLOOD_LINE.length);
const FLOOD_LINES = Math.ceil((6 * 1024 * 1024) / (PER_BLOCK * FLOOD_LINE.length)) * PER_BLOCK;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** The faulty pack hosted with `lineBudget`, the host's log kept as records. */
async function faultyHost(lineBudget: LineBudget) {
  const dir = await mkdtemp(join(tmpdir(), 'pack-stdout-flood-'));
  const records: { msg: string; [field: string]: unknown }[] = [];
  const sink = new Writable({
    write: (chunk, _encoding, done) => done(void records.push(JSON.parse(String(chunk)) as never)),
  });
  const host = await hostPacks(dir, [await approvePack('faulty')], {
    callTimeoutMs: CALL_TIMEOUT_MS,
    lineBudget,
    log: pino({ level: 'info' }, sink),
  });
  await host.start();
  const keys = new PackKeys(join(dir, 'keys.db'), { idempotencyWindowMs: 60_000 });
  cleanups.push(async () => {
    keys.close();
    await host.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { host, records, ...hostCaller(host, keys, CALL_TIMEOUT_MS) };
}

const pid = (answer: PackAnswer) => (answer.structuredContent as { pid?: number }).pid;

describe('a pack flooding its stdout with notifications', () => {
  it('has its budget of them handed on, the rest dropped unparsed and counted, and its answer taken', async () => {
    // One interval longer than the test: exactly the budget is handed on, whatever the machine's pace.
    const { host, records, call, relayed } = await faultyHost({ lines: 500, intervalMs: 600_000 });
    const before = pid(await call('faulty_ok'));
    const answer = await call('faulty_flood');
    expect(answer.structuredContent).toEqual({ ok: true, pid: before });
    expect(relayed()).toBe(500);
    // The call's relay saw only what was handed on: none of it past its own budget of 500.
    expect(records.filter((r) => r.msg.includes('dropped past the call'))).toEqual([]);
    expect(
      records.filter((r) => r.msg.startsWith('a pack wrote more lines on stdout than its budget')),
    ).toEqual([expect.objectContaining({ pack: 'faulty', budget: 500 })]);
    await host.stop();
    const dropped = records.filter((r) => r.msg === "a pack's stdout lines dropped past its budget");
    expect(dropped).toEqual([expect.objectContaining({ pack: 'faulty', dropped: FLOOD_LINES - 500 })]);
  }, 90_000);

  it('dressed as answers, is paced by the budget, and its answer still arrives from the same process', async () => {
    // A short interval: past each interval's budget, the dressed lines are parsed up to the message
    // bound (1 MiB here), refused, and reading pauses until the interval ends.
    const { records, call } = await faultyHost({ lines: 500, intervalMs: 100 });
    const before = pid(await call('faulty_ok'));
    expect((await call('faulty_masked_flood')).structuredContent).toEqual({ ok: true, pid: before });
    const warnings = records.filter((r) =>
      r.msg.startsWith('a pack wrote more lines on stdout than its budget'),
    );
    expect(warnings.length).toBeGreaterThan(1);
    expect(pid(await call('faulty_ok'))).toBe(before);
  }, 90_000);
});
