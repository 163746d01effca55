// A pack's log messages that reach no caller go to the runtime's log, which writes asynchronously
// and holds every line its output has not taken yet: a pack flooding them between calls must not
// grow that backlog without bound. At most UNRELAYED_LOGGED_PER_MINUTE a minute per pack are
// logged; the rest are counted, the first of them said once, and the count named on the next line
// logged. The logger here is a fake at the runtime's own port (pino's interface).
import { describe, expect, it } from 'vitest';
import type { Logger } from 'pino';
import {
  LOG_DATA_LIMIT,
  UNRELAYED_LOGGED_PER_MINUTE,
  UnrelayedLog,
} from '../../runtime-image/src/packs/unrelayed-log.ts';

function fakeLog() {
  const lines: { level: 'info' | 'warn'; fields: Record<string, unknown>; message: string }[] = [];
  const log = {
    info: (fields: Record<string, unknown>, message: string) =>
      lines.push({ level: 'info', fields, message }),
    warn: (fields: Record<string, unknown>, message: string) =>
      lines.push({ level: 'warn', fields, message }),
  };
  return { lines, log: log as unknown as Logger };
}

describe("a pack's log messages that reach no caller", () => {
  it('are logged up to the bound a minute per pack, the rest counted and the count logged', () => {
    const { lines, log } = fakeLog();
    let now = 0;
    const unrelayed = new UnrelayedLog(log, () => now);
    for (let i = 0; i < 100_000; i++) unrelayed.note('chatty', 0, { level: 'info', data: `m${i}` });
    // Another pack's allowance is its own.
    unrelayed.note('quiet', 2, { level: 'error', data: { big: 'x'.repeat(10_000) } });
    const dropped = 100_000 - UNRELAYED_LOGGED_PER_MINUTE;
    expect(lines).toHaveLength(UNRELAYED_LOGGED_PER_MINUTE + 2);
    expect(lines.filter((l) => l.level === 'warn')).toEqual([
      expect.objectContaining({ fields: { pack: 'chatty', limit: UNRELAYED_LOGGED_PER_MINUTE } }),
    ]);
    const quiet = lines.at(-1)!;
    expect(quiet.fields).toMatchObject({ pack: 'quiet', level: 'error', calls: 2 });
    expect(String(quiet.fields.data)).toHaveLength(LOG_DATA_LIMIT);

    now += 60_000;
    unrelayed.note('chatty', 0, { level: 'info', data: 'next minute' });
    expect(lines.at(-1)!.fields).toMatchObject({ pack: 'chatty', data: '"next minute"', dropped });
    expect(lines.at(-1)!.message).toContain(`${dropped} before it not logged`);
    unrelayed.note('chatty', 0, { level: 'info', data: 'after' });
    expect(lines.at(-1)!.fields).not.toHaveProperty('dropped');
  });
});
