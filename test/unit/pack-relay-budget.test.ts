// The relay budget measures a pack's notifications without serializing them
// (runtime-image/src/packs/pack-calls.ts, approxJsonLength): close to their JSON's length for the
// shapes packs send, and past the budget for nesting no notification needs.
import { describe, expect, it } from 'vitest';
import { approxJsonLength, MAX_RELAYED_BYTES_PER_CALL } from '../../runtime-image/src/packs/pack-calls.ts';

describe("a pack notification's measure for the relay budget", () => {
  it('is within a third of its JSON for log messages and progress, and exact to a few characters for a large text', () => {
    const shapes: unknown[] = [
      { level: 'error', data: 'c'.repeat(256 * 1024) },
      {
        level: 'info',
        logger: 'pack',
        data: { rows: Array.from({ length: 500 }, (_, i) => ({ id: i, name: `row ${i}` })) },
      },
      { progressToken: 'tok-1', progress: 40, total: 100, message: 'copying' },
    ];
    for (const shape of shapes) {
      const exact = JSON.stringify(shape).length;
      expect(Math.abs(approxJsonLength(shape) - exact) / exact).toBeLessThan(0.35);
    }
    const big = { level: 'error', data: 'c'.repeat(256 * 1024) };
    expect(Math.abs(approxJsonLength(big) - JSON.stringify(big).length)).toBeLessThan(64);
  });

  it('counts nesting deeper than any notification needs as past the budget', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 40; i++) deep = { next: deep };
    expect(approxJsonLength(deep)).toBeGreaterThan(MAX_RELAYED_BYTES_PER_CALL);
  });
});
