// The console's boundaries in deploy/compose/console.yml over docker-compose.yml, checked against
// the real files and weakened copies by test/integration/compose-console.test.ts.
import { expect } from 'vitest';
import {
  expectConfined,
  groupsOf,
  holdsDockerAccess,
  mounts,
  secretNames,
  service,
  type ComposeConfig,
} from './compose-config.ts';

/**
 * Non-root with a UID of its own, confined, no Docker; the audit trail's public key and its own
 * client secret as files, the secret never in the environment; Redis's socket and the sealed
 * segments read-only and nothing else mounted; its UI published on loopback alone; the same issuer
 * as the router.
 */
export function expectConsoleConfined(config: ComposeConfig): void {
  const console = service(config, 'console');
  const [uid = ''] = (console.user ?? '').split(':');
  expect(uid).toMatch(/^[1-9]\d*$/);
  const others = Object.entries(config.services).filter(([name]) => name !== 'console');
  for (const [name, svc] of others) expect((svc.user ?? '').split(':')[0], `UID of ${name}`).not.toBe(uid);
  expectConfined(console);
  expect(holdsDockerAccess(console)).toBe(false);
  expect(secretNames(console).sort()).toEqual(['audit_signing_pub', 'console_client_secret']);
  const env = console.environment ?? {};
  expect(env.BULKHEAD_CONSOLE_CLIENT_SECRET_FILE).toBe('/run/secrets/console_client_secret');
  expect(env.BULKHEAD_CONSOLE_CLIENT_SECRET).toBeUndefined();
  expect(env.BULKHEAD_CONSOLE_ISSUER).toBe(service(config, 'router').environment?.BULKHEAD_ISSUER);
  for (const [name, svc] of others)
    expect(secretNames(svc), `secrets of ${name}`).not.toContain('console_client_secret');
  expect(mounts(console).every((m) => m.readOnly)).toBe(true);
  expect(
    mounts(console)
      .map((m) => m.target)
      .sort(),
  ).toEqual(['/run/redis', '/var/lib/bulkhead/audit']);
  expect(groupsOf(console)).not.toContain(service(config, 'supervisor').environment?.BULKHEAD_ROUTER_GID);
  // The IdP and its published port, and the two /metrics it scrapes: no other network.
  expect(Object.keys(console.networks ?? {}).sort()).toEqual([
    'edge',
    'router-telemetry',
    'supervisor-telemetry',
  ]);
  expect((console.ports ?? []).length).toBe(1);
  for (const port of console.ports ?? []) expect(String(port)).toMatch(/^127\.0\.0\.1:/);
}
