// One tenant whose idle tier fails (a directory it planted where its secrets file goes made the stop
// throw) does not end the reaper's pass: the tenants after it are still paused and stopped
// (supervisor/lifecycle/idle-reaper.ts). The controller is a fake at our own port.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { IdleReaper } from '../../supervisor/lifecycle/idle-reaper.ts';
import type { RuntimeInfo } from '../../supervisor/runtime/runtime-driver.ts';

const NOW = Date.parse('2026-12-06T10:00:00Z');

function running(tenantId: string): RuntimeInfo {
  return {
    tenantId,
    runtimeId: `c-${tenantId}`,
    state: 'running',
    createdAt: new Date(NOW - 3_600_000).toISOString(),
  } as RuntimeInfo;
}

describe('the idle reaper', () => {
  it("goes on to the next tenants when one tenant's idle tier fails", async () => {
    const asked: string[] = [];
    const reaper = new IdleReaper({
      view: { list: () => Promise.resolve(['first', 'broken', 'last'].map(running)) },
      epochs: { activity: () => Promise.resolve(new Map()) },
      controller: {
        idle: (tenantId) => {
          asked.push(tenantId);
          return tenantId === 'broken'
            ? Promise.reject(new Error("EISDIR: the tenant's secrets path is a directory"))
            : Promise.resolve(true);
        },
      },
      tiers: { pauseAfterMs: 60_000, stopAfterMs: 120_000, removeAfterMs: 7_200_000 },
      logger: pino({ level: 'silent' }),
    });
    await reaper.runOnce(NOW);
    expect(asked).toEqual(['first', 'broken', 'last']);
    expect(reaper.actions.entries.map((a) => a.tenantId)).toEqual(['first', 'last']);
  });
});
