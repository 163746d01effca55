// startLocalEgress (test/support/egress.ts) as a process of its own, for a test that needs the
// gateway to run where the test process cannot: test/integration/egress-name-lookup.test.ts runs it
// in a mount namespace whose /etc/resolv.conf names a resolver that never answers. Its one argument
// is startLocalEgress's options as JSON; once its bridges are served it prints one JSON line: their
// ports, its namespace and its run directory (for what a killed gateway leaves behind); and it
// closes everything on SIGTERM.
import { startLocalEgress } from './egress.ts';

const local = await startLocalEgress(
  JSON.parse(process.argv[2] ?? '{}') as Parameters<typeof startLocalEgress>[0],
);
const { namespace, runDir } = local.ns;
process.stdout.write(`${JSON.stringify({ ports: local.ports, namespace, runDir })}\n`);
// Exits without waiting for getaddrinfo calls still blocked on the resolver.
process.on('SIGTERM', () => void local.close().finally(() => process.exit(0)));
