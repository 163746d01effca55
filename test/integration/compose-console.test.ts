// deploy/compose/console.yml over docker-compose.yml, read from what docker-compose makes of the two
// (`docker-compose config`): every boundary of docker-compose.yml still holds with the console added,
// and the console's own (test/support/compose-console-checks.ts), each check also run against a
// weakened copy it must refuse. test/e2e/compose-console.test.ts runs the override.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { composeSync, ROOT } from '../support/compose.ts';
import { loadConfig, service, type ComposeConfig } from '../support/compose-config.ts';
import {
  AUDIT_DIR,
  CHECKS,
  DOCKER_SOCKET,
  expectAuditSealedBySupervisorAlone,
  expectKeysSplit,
  expectMetricsReachPrometheusAlone,
  expectOnlySupervisorHoldsDocker,
} from '../support/compose-checks.ts';
import { expectConsoleConfined } from '../support/compose-console-checks.ts';

const ISSUER = 'https://idp.example.test/';
const CONSOLE = ['-f', join(ROOT, 'deploy/compose/console.yml')];
const config = loadConfig({ BULKHEAD_ISSUER: ISSUER }, CONSOLE);

describe('deploy/compose/console.yml over docker-compose.yml', () => {
  it('keeps every boundary of docker-compose.yml', () => {
    expect(Object.keys(config.services)).toContain('console');
    for (const check of Object.values(CHECKS)) check(config);
  });

  it('runs the console non-root and read-only on loopback, without Docker or keys, its client secret a file', () => {
    expectConsoleConfined(config);
  });

  it('validates without the operator having named a client yet (the console then refuses to start)', () => {
    expect(() => composeSync([...CONSOLE, 'config', '-q'], { BULKHEAD_ISSUER: ISSUER })).not.toThrow();
  });
});

describe('the checks catch a weakened console', () => {
  const weakened: [string, (c: ComposeConfig) => void, (c: ComposeConfig) => void][] = [
    [
      "the console's client secret in its environment",
      (c) =>
        Object.assign(service(c, 'console').environment ?? {}, {
          BULKHEAD_CONSOLE_CLIENT_SECRET: 'x'.repeat(16),
        }),
      expectConsoleConfined,
    ],
    [
      'the console published on every interface',
      (c) => (service(c, 'console').ports = ['8090:8090']),
      expectConsoleConfined,
    ],
    ['the console as the CLI', (c) => (service(c, 'console').user = '10002:10002'), expectConsoleConfined],
    [
      'the console with a writable root',
      (c) => delete service(c, 'console').read_only,
      expectConsoleConfined,
    ],
    [
      "the console in the router's group (tenant sockets)",
      (c) => (service(c, 'console').group_add ??= []).push('10001'),
      expectConsoleConfined,
    ],
    [
      'the console signing in at another issuer than the router trusts',
      (c) =>
        Object.assign(service(c, 'console').environment ?? {}, {
          BULKHEAD_CONSOLE_ISSUER: 'https://other.example.test/',
        }),
      expectConsoleConfined,
    ],
    [
      'the Docker socket in the console',
      (c) => service(c, 'console').volumes?.push(`${DOCKER_SOCKET}:${DOCKER_SOCKET}:ro`),
      expectOnlySupervisorHoldsDocker,
    ],
    [
      'the audit signing key in the console',
      (c) => service(c, 'console').secrets?.push('audit_signing_key'),
      expectKeysSplit,
    ],
    [
      'the audit segments writable in the console',
      (c) => (service(c, 'console').volumes = ['redis-socket:/run/redis:ro', `audit-segments:${AUDIT_DIR}`]),
      expectAuditSealedBySupervisorAlone,
    ],
    [
      "the console on the egress gateway's network",
      (c) => Object.assign(service(c, 'console').networks ?? {}, { 'egress-telemetry': null }),
      expectConsoleConfined,
    ],
    [
      'another scraper beside the console',
      (c) => Object.assign(service(c, 'egress').networks ?? {}, { 'router-telemetry': null }),
      expectMetricsReachPrometheusAlone,
    ],
  ];
  for (const [title, weaken, check] of weakened) {
    it(title, () => {
      const copy = structuredClone(config);
      weaken(copy);
      expect(() => check(copy)).toThrow();
    });
  }
});
