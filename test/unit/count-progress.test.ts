// The progress lines of long operator commands (tenants/cli/command-kit.ts, `bulkhead audit verify`
// and `export` in a terminal): nothing for work shorter than the interval, then at most a line per
// interval, and the end once anything was written. A clock the test moves.
import { describe, expect, it } from 'vitest';
import { countProgress } from '../../tenants/cli/command-kit.ts';

function reporter() {
  const clock = { at: 0 };
  const lines: string[] = [];
  const report = countProgress({
    verb: 'verified',
    noun: 'segments',
    write: (line) => lines.push(line),
    intervalMs: 1_000,
    now: () => clock.at,
  });
  return { clock, lines, report };
}

describe('count progress', () => {
  it('writes nothing for work that ends within the interval', () => {
    const { clock, lines, report } = reporter();
    for (let done = 1; done <= 3; done++) {
      clock.at += 300;
      report(done, 3);
    }
    expect(lines).toEqual([]);
  });

  it('writes a line per interval at most, and the end', () => {
    const { clock, lines, report } = reporter();
    for (let done = 1; done <= 10; done++) {
      clock.at += 400;
      report(done, 10);
    }
    expect(lines).toEqual([
      '  … verified 3 of 10 segments\n',
      '  … verified 6 of 10 segments\n',
      '  … verified 9 of 10 segments\n',
      '  … verified 10 of 10 segments\n',
    ]);
  });
});
