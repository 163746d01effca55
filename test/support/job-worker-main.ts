// A BullMQ worker in a process of its own, for test/integration/job-outcome-stall.test.ts: it works
// the jobs of a queue while the test's own process is stalled, which a worker in that process could
// not. Arguments: the Redis URL, the jobs prefix, the queue and a directory. Each job returns
// `{ answered: <its data> }`; once its completion is recorded (the event stream has it), an empty
// file named by the job's id is written to the directory, which the stalled test polls for
// synchronously. Prints "ready" once it takes jobs.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'bullmq';
import { parseRedisUrl } from '../../kernel/redis/connection.ts';

const [url, prefix, queue, dir] = process.argv.slice(2) as [string, string, string, string];
const worker = new Worker(queue, (job) => Promise.resolve({ answered: job.data as unknown }), {
  connection: { ...parseRedisUrl(url), maxRetriesPerRequest: null },
  prefix,
});
worker.on('completed', (job) => writeFileSync(join(dir, String(job.id)), ''));
await worker.waitUntilReady();
process.stdout.write('ready\n');
process.stdin.once('end', () => void worker.close().then(() => process.exit(0)));
process.stdin.resume();
