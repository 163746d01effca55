// A pack's stderr as a host keeps it (kernel/packs/pack-stderr.ts): a fixed amount whatever the
// pack writes. At the approval sandbox's port (listInSandbox, with an engine that hands out a
// hostile pack's streams), a pack that floods its stderr while the supervisor waits for its answer
// leaves the supervisor's heap as it was, and the failure still shows the pack's last lines.
import { once } from 'node:events';
import { type PassThrough, Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { PACK_STDERR_LINE_LIMIT, StderrTail } from '../../kernel/packs/pack-stderr.ts';
import { listInSandbox, SANDBOX_STDERR_LINES } from '../../supervisor/docker/pack-images.ts';
import { sandboxEngine } from '../support/sandbox-engine.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapUsed = (): number => {
  gc();
  return process.memoryUsage().heapUsed;
};

const MiB = 1024 * 1024;
const LINE_BYTES = 4096; // with its newline: 16 lines a chunk, fewer than a chunk's 20 kept before
const CHUNK_LINES = 16;
const FLOOD_CHUNKS = (64 * MiB) / (LINE_BYTES * CHUNK_LINES);
const FLOOD_LINES = FLOOD_CHUNKS * CHUNK_LINES;
/** Far above what the tail holds (11 lines of 2,048 characters), far below the flood. */
const RETAINED_BOUND = 4 * MiB;

// Every chunk a new string, as a stream delivers them, each line naming its number.
const chunk = (index: number): string =>
  Array.from({ length: CHUNK_LINES }, (_, j) =>
    `line ${index * CHUNK_LINES + j} `.padEnd(LINE_BYTES - 1, 'x'),
  ).join('\n') + '\n';

describe('StderrTail', () => {
  it('keeps the last lines, each cut, and counts every line', () => {
    const tail = new StderrTail(3, 8);
    tail.write('one\n\n  \ntwo that is long\nthr');
    tail.write('ee\nfour');
    expect(tail.tail).toEqual(['two that', 'three', 'four']);
    expect(tail.lines).toBe(4);
    tail.write('\n');
    expect(tail.tail).toEqual(['two that', 'three', 'four']);
    expect(tail.lines).toBe(4);
  });

  it('holds the first characters of a line without end, however long it grows', () => {
    const tail = new StderrTail(10);
    const before = heapUsed();
    for (let i = 0; i < FLOOD_CHUNKS; i += 1) tail.write(`${i} `.padEnd(LINE_BYTES * CHUNK_LINES, 'y'));
    expect(heapUsed() - before).toBeLessThan(RETAINED_BOUND);
    expect(tail.tail).toEqual([`0 `.padEnd(PACK_STDERR_LINE_LIMIT, 'y')]);
    expect(tail.lines).toBe(1);
  });
});

/** An engine whose one container is a pack that, asked to initialize, floods stderr and exits. */
function floodingEngine(measured: { retained?: number }): Docker {
  let stdout!: PassThrough;
  let stderr!: PassThrough;
  let asked = false;
  const stdin = new Writable({
    write(_data, _encoding, done) {
      done();
      if (!asked) void flood();
      asked = true;
    },
  });
  const flood = async () => {
    const before = heapUsed();
    for (let i = 0; i < FLOOD_CHUNKS; i += 1) if (!stderr.write(chunk(i))) await once(stderr, 'drain');
    while (stderr.readableLength > 0) await new Promise((resolve) => setImmediate(resolve));
    // Measured while the listing still holds what it kept: before the pack's stdout ends.
    measured.retained = heapUsed() - before;
    stdout.end();
  };
  return sandboxEngine({
    id: 'sha256:flood',
    stdin,
    demux: (out, err) => {
      stdout = out;
      stderr = err;
    },
  });
}

describe('the approval sandbox', () => {
  it("keeps a bounded tail of a pack's stderr flood, and shows its last lines", async () => {
    const measured: { retained?: number } = {};
    const failure = await listInSandbox(floodingEngine(measured), {
      ref: 'bulkhead-pack-notes:1.0.0',
      namespace: 'unit',
      timeoutMs: 60_000,
      maxMessageBytes: 4 * MiB,
    }).catch((error: unknown) => error as Error);
    expect(failure).toBeInstanceOf(Error);
    expect(measured.retained).toBeLessThan(RETAINED_BOUND);
    const message = (failure as Error).message;
    expect(message).toMatch(/^the pack did not answer MCP in the sandbox: /);
    expect(message).toContain(`its stderr, the last ${SANDBOX_STDERR_LINES} of ${FLOOD_LINES} lines:\n`);
    const shown = message.split('\n').slice(-SANDBOX_STDERR_LINES);
    expect(shown.map((line) => line.split(' ', 2).join(' '))).toEqual(
      Array.from(
        { length: SANDBOX_STDERR_LINES },
        (_, i) => `line ${FLOOD_LINES - SANDBOX_STDERR_LINES + i}`,
      ),
    );
    expect(shown.every((line) => line.length === PACK_STDERR_LINE_LIMIT)).toBe(true);
  });
});
