// The gateway's bound on new connections into one tenant's bridge must slow a busy tenant down, not
// starve it: with the bound spent, the idle pool empties, and nothing but the next second may dial
// again. On real Redis with the bridge in this process (test/support/egress.ts): more sequential
// proxy requests than the bound allows in a second all succeed, spread over the seconds it takes.
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
