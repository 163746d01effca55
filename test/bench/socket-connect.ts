// Benchmark (not a test): what the runtime socket checks (supervisor/client/runtime-socket.ts) add
// to opening a connection: a plain unix-socket connect against open(O_PATH|O_NOFOLLOW) + fstat +
// connect through /proc/self/fd. Paid once per new connection; kept-alive connections pay nothing.
//   node test/bench/socket-connect.ts [--connects 5000]
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRuntimeSocket } from '../../supervisor/client/runtime-socket.ts';
import { printFigures } from './figures.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: { connects: { type: 'string', default: '5000' } },
});
const count = Number(values.connects);

const dir = mkdtempSync(join(tmpdir(), 'bulkhead-bench-socket-'));
const socketPath = join(dir, 'mcp.sock');
const server = createServer((socket) => socket.resume());
await new Promise<void>((resolve) => server.listen(socketPath, resolve));

function timedConnect(make: () => Socket): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = make();
    socket.once('connect', () => {
      resolve(performance.now() - started);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

const paths: [string, () => Socket][] = [
  ['plain connect (path)', () => connect({ path: socketPath })],
  [
    'checked connect (O_PATH, fstat, /proc/self/fd)',
    () => connectRuntimeSocket({ kind: 'unix', socketPath, uid: process.getuid?.() ?? 0 }),
  ],
];
const p50s: number[] = [];
// Interleaved rounds, so that the machine's load hits both paths alike.
const samples = paths.map((): number[] => []);
for (let round = 0; round < 10; round++)
  for (const [index, [, make]] of paths.entries())
    for (let i = 0; i < count / 10; i++) samples[index]?.push(await timedConnect(make));
for (const [index, [label]] of paths.entries())
  p50s.push(printFigures(label, samples[index] ?? [], { digits: 3 }));
console.log(
  `checks add ${(((p50s[1] ?? 0) - (p50s[0] ?? 0)) * 1000).toFixed(1)} µs at p50 per new connection`,
);
server.close();
rmSync(dir, { recursive: true, force: true });
