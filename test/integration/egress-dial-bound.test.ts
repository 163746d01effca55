// The gateway's bound on new connections into one tenant's bridge must slow a busy tenant down, not
// starve it: with the bound spent, the idle pool empties, and nothing but the next second may dial
// again. On real Redis with the bridge in this process (test/support/egress.ts): more sequential
// proxy requests than the bound allows in a second all succeed, spread over the seconds it takes.
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  getOnce,
  startLocalEgress,
  startUpstream,
  type LocalEgress,
  type Upstream,
} from '../support/egress.ts';

const DIALS_PER_SECOND = 5;
const REQUESTS = 3 * DIALS_PER_SECOND;

let upstream: Upstream;
let local: LocalEgress;

beforeAll(async () => {
  upstream = await startUpstream('steady');
  local = await startLocalEgress({
    label: 'egress-dials',
    egress: { mode: 'allowlist', hosts: [`127.0.0.1:${upstream.port}`], packs: {}, upstreams: {} },
    poolSize: 2,
    dialsPerSecond: DIALS_PER_SECOND,
  });
});

afterAll(async () => {
  await local?.close();
  await upstream?.close();
});

it('serves more requests than one second of dials allows, without waiting for the gateway’s pass', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < REQUESTS; i++)
    statuses.push(
      await getOnce({ host: '127.0.0.1', port: local.port, path: `http://127.0.0.1:${upstream.port}/${i}` }),
    );
  // The bridge answers 503 when no gateway connection comes within 2 s; the pass is a minute away.
  expect(statuses).toEqual(Array.from({ length: REQUESTS }, () => 200));
  expect(upstream.seen).toHaveLength(REQUESTS);
  expect(local.gateway.stats('local')?.used).toBe(REQUESTS);
});

it('ends the connection of a refused request, so refusals are bounded by the dials as new connections are', async () => {
  const before = local.gateway.stats('local')?.used ?? 0;
  // One kept-alive connection to the bridge, as a client's proxy agent keeps it.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const statuses: number[] = [];
  try {
    for (let i = 0; i < 4; i++)
      statuses.push(
        await new Promise<number>((resolve, reject) => {
          const path = 'http://192.0.2.1/refused';
          const req = request({ host: '127.0.0.1', port: local.port, path, agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end();
        }),
      );
  } finally {
    agent.destroy();
  }
  expect(statuses).toEqual([403, 403, 403, 403]);
  // Each refusal took a gateway connection of its own: none was kept for the next request.
  expect((local.gateway.stats('local')?.used ?? 0) - before).toBe(4);
});
