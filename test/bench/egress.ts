// Benchmark (not a test): what the egress path adds to one upstream call. The in-container bridge
// (runtime-image/src/egress-bridge.ts) runs here in this process, its socket handed to the tenant's
// UID as a container's would be, and the gateway (egress/gateway.ts) dials it like any tenant's,
// against the shared Redis under a namespace of its own (the upstream budget's Lua decision is paid
// per call). Compared: a GET to a loopback upstream directly, through the proxy as absolute-form HTTP
// (a metered upstream: allowlist, the limiter's upstream layer, audit append), and a CONNECT tunnel opened per call.
//   node test/bench/egress.ts [--calls 500]
import { connect } from 'node:net';
import { setUpstreamBudget } from '../../kernel/ratelimit/upstream-budgets.ts';
import { getOnce, startLocalEgress, startUpstream } from '../support/egress.ts';
import { printFigures, timed } from './figures.ts';
import { benchArgs } from './bench-args.ts';

const { values } = benchArgs(import.meta.filename, {
  options: { calls: { type: 'string', default: '500' } },
});
const calls = Number(values.calls);

const upstream = await startUpstream('bench');
const target = `127.0.0.1:${upstream.port}`;
const local = await startLocalEgress({
  label: 'bench-egress',
  egress: { mode: 'allowlist', hosts: [], packs: {}, upstreams: { api: { hosts: [target] } } },
});
await setUpstreamBudget({
  redis: local.redis,
  prefix: local.ns.installation.registryPrefix,
  upstream: 'api',
  callsPerMinute: 1_000_000,
});
const { port } = local;

async function get(options: Parameters<typeof getOnce>[0]): Promise<void> {
  const status = await getOnce(options);
  if (status !== 200) throw new Error(`status ${status}`);
}

function tunnelGet(): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`),
    );
    let seen = '';
    let opened = false;
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (!opened && seen.includes('\r\n\r\n')) {
        opened = true;
        seen = '';
        socket.write(`GET / HTTP/1.1\r\nHost: ${target}\r\nConnection: close\r\n\r\n`);
      }
    });
    socket.on('close', () => (seen.includes('hello from bench') ? resolve() : reject(new Error(seen))));
    socket.on('error', reject);
  });
}

try {
  await local.gateway.refresh();
  const paths: [string, () => Promise<void>][] = [
    ['direct GET (new connection)', () => get({ host: '127.0.0.1', port: upstream.port, path: '/' })],
    [
      'proxied GET, absolute-form (new connection)',
      () => get({ host: '127.0.0.1', port, path: `http://${target}/` }),
    ],
    ['proxied CONNECT tunnel + GET (new connection)', tunnelGet],
  ];
  for (const [label, fn] of paths) {
    await timed(50, fn); // warm-up
    printFigures(label, await timed(calls, fn), { digits: 2 });
  }
} finally {
  await local.close();
  await upstream.close();
}
