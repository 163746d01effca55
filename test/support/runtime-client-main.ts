// A RuntimeClient in a process of its own, for test/integration/runtime-client-close.test.ts:
// whether its close returns and the process then exits, which the test's own process (holding
// handles of its own) cannot show. Arguments: the Redis URL and the jobs prefix. Prints "ready"
// once connected; at a line on stdin it closes the client, prints "closed <ms>" and leaves the
// process to exit by itself once nothing holds it.
import { parseRedisUrl } from '../../kernel/redis/connection.ts';
import { RuntimeClient } from '../../supervisor/client/runtime-client.ts';

const client = new RuntimeClient({ redis: parseRedisUrl(process.argv[2]!), prefix: process.argv[3]! });
await client.ready();
process.stdout.write('ready\n');
process.stdin.once('data', () => {
  process.stdin.destroy();
  const started = performance.now();
  void client.close().then(() => process.stdout.write(`closed ${Math.round(performance.now() - started)}\n`));
});
