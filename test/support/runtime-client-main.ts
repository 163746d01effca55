// A RuntimeClient in a process of its own, for test/integration/runtime-client-close.test.ts:
// whether its close returns and the process then exits, which the test's own process (holding
// handles of its own) cannot show. Arguments: the Redis URL, the jobs prefix and, optionally,
// `waiting`: an ensure is asked for (no supervisor serves the prefix, so it waits untaken) before
// "ready". Prints "ready" once connected (and, `waiting`, once the job waits to be taken); at a line
// on stdin it closes the client, prints "closed <ms>" and leaves the process to exit by itself once
// nothing holds it. The ensure, once it settles, prints "settled <code> <ms> <message>": its error's
// code, how long after the close began, and its message. The client's timers (a job's wait, a
// connection's connect) are longer than the test's timeout: one the close left running would keep
// the process from exiting until the test fails, however slowly a loaded machine runs it.
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { parseRedisUrl } from '../../kernel/redis/connection.ts';
import { RuntimeClient } from '../../supervisor/client/runtime-client.ts';

const [url, prefix, mode] = process.argv.slice(2);
const HOLD_MS = 600_000;
let untaken = (): void => undefined;
const waitsUntaken = new Promise<void>((resolve) => (untaken = resolve));
const client = new RuntimeClient({
  redis: Object.assign(parseRedisUrl(url!), { connectTimeout: HOLD_MS }),
  prefix: prefix!,
  timeoutMs: HOLD_MS,
  untaken: { everyMs: 50, notice: () => untaken() },
});
await client.ready();
let closeStarted = 0;
if (mode === 'waiting') {
  client.ensure('waiting').then(
    () => process.stdout.write('settled ok\n'),
    (error: unknown) => {
      const code = isBulkheadError(error) ? error.code : String(error);
      const message = error instanceof Error ? error.message : '';
      process.stdout.write(`settled ${code} ${Math.round(performance.now() - closeStarted)} ${message}\n`);
    },
  );
  await waitsUntaken;
}
process.stdout.write('ready\n');
process.stdin.once('data', () => {
  process.stdin.destroy();
  closeStarted = performance.now();
  void client
    .close()
    .then(() => process.stdout.write(`closed ${Math.round(performance.now() - closeStarted)}\n`));
});
