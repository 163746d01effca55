// Which failures of a file the operator named are their bad input (invalid_input, exit 2, one line
// naming the path and why) and which stay errors (exit 1, the system's own error): a code that
// says something of the path (missing, a file where a directory goes, no permission) is the first;
// one that says something of the machine (an I/O error, no file descriptors left, a full disk) is
// the second, however the path was named.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeOf, isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { atPath, pathRefusal } from '../../kernel/errors/path-refusal.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bulkhead-path-refusal-'));
  await writeFile(join(dir, 'a-file'), 'x');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What `work` throws, through atPath as the commands call it. */
async function thrownAt(path: string, work: () => Promise<unknown>): Promise<unknown> {
  return atPath({ option: '--out', path, verb: 'write' }, work).then(
    () => expect.fail('expected a failure'),
    (error: unknown) => error,
  );
}

/** An error as Node's fs makes one, for the codes a test cannot make this machine produce. */
function systemError(code: string, errno: number, text: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${text}, open '${path}'`), { code, errno, syscall: 'open', path });
}

describe('pathRefusal', () => {
  it('refuses a path that is missing, under a file, or a file where a directory goes, as bad input', async () => {
    const file = join(dir, 'a-file');
    const cases: [string, () => Promise<unknown>, string][] = [
      [join(dir, 'no', 'x'), () => writeFile(join(dir, 'no', 'x'), ''), 'no such file or directory (ENOENT)'],
      [join(file, 'x'), () => mkdir(join(file, 'x')), `${file} is not a directory (ENOTDIR)`],
      [file, () => mkdir(file), 'it is a file, not a directory (EEXIST)'],
      [dir, () => writeFile(dir, ''), 'it is a directory (EISDIR)'],
    ];
    for (const [path, work, reason] of cases) {
      const error = await thrownAt(path, work);
      expect({ path, code: exitCodeOf(error), message: (error as Error).message }).toEqual({
        path,
        code: 2,
        message: `--out ${path}: cannot write it: ${reason}`,
      });
    }
  });

  it('keeps a failure of the machine an error of its own (exit 1), not the operator bad input', async () => {
    // /dev/full answers every write with ENOSPC: a real full device.
    const full = await thrownAt('/dev/full', () => writeFile('/dev/full', 'x'));
    const machine = [
      systemError('EIO', -5, 'i/o error', join(dir, 'out')),
      systemError('EMFILE', -24, 'too many open files', join(dir, 'out')),
      systemError('ENFILE', -23, 'file table overflow', join(dir, 'out')),
      systemError('ENOMEM', -12, 'not enough memory', join(dir, 'out')),
      systemError('EBUSY', -16, 'resource busy or locked', join(dir, 'out')),
      systemError('EAGAIN', -11, 'resource temporarily unavailable', join(dir, 'out')),
      full,
    ];
    for (const error of machine) {
      const refused = pathRefusal({ option: '--out', path: join(dir, 'out'), verb: 'write' }, error);
      expect({ code: (error as NodeJS.ErrnoException).code, same: refused === error }).toEqual({
        code: (error as NodeJS.ErrnoException).code,
        same: true,
      });
      expect(isBulkheadError(refused)).toBe(false);
      expect(exitCodeOf(refused)).toBe(1);
    }
    expect((full as NodeJS.ErrnoException).code).toBe('ENOSPC');
  });
});
