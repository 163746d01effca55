// The trust boundaries that docker-compose.yml encodes, read from what docker-compose itself makes of
// the file (`docker-compose config`: interpolated, merged, normalised), not from the YAML text. The
// checks are also run against weakened copies of that configuration, so each one is known to fail.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { composeSync, ROOT } from '../support/compose.ts';
import { loadConfig as loadComposeConfig, service, type ComposeConfig } from '../support/compose-config.ts';
import {
  AUDIT_DIR,
  CHECKS,
  PACKS_DIR,
  COLLECTOR,
  DOCKER_SOCKET,
  REDIS_SOCKET_DIR,
  RUN_DIR,
  expectAuditSealedBySupervisorAlone,
  expectCliConfined,
  expectDevIdpOnlyInDevProfile,
  expectImagesBuiltLocally,
  expectKeysSplit,
  expectMetricsReachPrometheusAlone,
  expectOnlySupervisorHoldsDocker,
  expectPacksReadOnlyInCliAndSupervisor,
  expectRedisDurableOnItsSocket,
  expectRouterHardened,
  expectRunDirSharedAtSamePath,
  expectTracesReachCollectorAlone,
} from '../support/compose-checks.ts';

const ISSUER = 'https://idp.example.test/';

/** docker-compose with no BULKHEAD_* or COMPOSE_* from the caller: the file's defaults. */
function compose(args: string[], extraEnv: Record<string, string> = { BULKHEAD_ISSUER: ISSUER }): string {
  return composeSync(args, extraEnv);
}

function loadConfig(profileArgs: string[] = []): ComposeConfig {
  return loadComposeConfig({ BULKHEAD_ISSUER: ISSUER }, profileArgs);
}

describe('docker-compose.yml', () => {
  const config = loadConfig();

  for (const [title, check] of Object.entries(CHECKS)) it(title, () => check(config));

  it('validates with the dev profile too, and lists the dev IdP, Prometheus and the CLI only in theirs', () => {
    const dev = loadConfig(['--profile', 'dev']);
    expect(Object.keys(dev.services).sort()).toEqual([
      'cli',
      'dev-idp',
      'egress',
      'prometheus',
      'redis',
      'router',
      'supervisor',
    ]);
    for (const check of Object.values(CHECKS)) check(dev);
    expect(compose(['config', '--profiles']).split('\n').filter(Boolean)).toEqual([
      'cli',
      'dev',
      'observability',
    ]);
  });

  it('refuses to start a router without an explicit token issuer', () => {
    expect(() => compose(['config', '-q'], {})).toThrow(/BULKHEAD_ISSUER/);
    expect(service(config, 'router').environment?.BULKHEAD_ISSUER).toBe(ISSUER);
  });
});

/** A weakening: the service off `network_mode: none`, on the edge network. */
function onEdge(config: ComposeConfig, name: string): void {
  const svc = service(config, name);
  delete svc.network_mode;
  svc.networks = { edge: null };
}

/** A weakening: the service's read-only mount at `target` made writable. */
function writable(config: ComposeConfig, name: string, target: string): void {
  const svc = service(config, name);
  svc.volumes = (svc.volumes ?? []).map((v) =>
    typeof v === 'string' ? v.replace(`:${target}:ro`, `:${target}`) : v,
  );
}

describe('the checks catch a weakened docker-compose.yml', () => {
  const base = loadConfig();
  const weakened: [string, (c: ComposeConfig) => void, (c: ComposeConfig) => void][] = [
    [
      'docker socket in the router',
      (c) => service(c, 'router').volumes?.push(`${DOCKER_SOCKET}:${DOCKER_SOCKET}:ro`),
      expectOnlySupervisorHoldsDocker,
    ],
    [
      'DOCKER_HOST for the router',
      (c) => Object.assign(service(c, 'router').environment ?? {}, { DOCKER_HOST: 'tcp://docker:2375' }),
      expectOnlySupervisorHoldsDocker,
    ],
    ['writable router root', (c) => delete service(c, 'router').read_only, expectRouterHardened],
    ['router keeps capabilities', (c) => delete service(c, 'router').cap_drop, expectRouterHardened],
    ['router may gain privileges', (c) => (service(c, 'router').security_opt = []), expectRouterHardened],
    ['router as root', (c) => (service(c, 'router').user = '0:10001'), expectRouterHardened],
    [
      'run directory at another path in the container',
      (c) =>
        (service(c, 'supervisor').volumes = [
          `${DOCKER_SOCKET}:${DOCKER_SOCKET}`,
          `${RUN_DIR}:/run/bulkhead`,
        ]),
      expectRunDirSharedAtSamePath,
    ],
    [
      'private key in the supervisor',
      (c) => service(c, 'supervisor').secrets?.push('call_assertion_key'),
      expectKeysSplit,
    ],
    [
      'redis without append-only',
      (c) => (service(c, 'redis').command = ['redis-server', '--appendonly', 'no']),
      expectRedisDurableOnItsSocket,
    ],
    ['redis published', (c) => (service(c, 'redis').ports = ['6379:6379']), expectRedisDurableOnItsSocket],
    ['redis on a network', (c) => onEdge(c, 'redis'), expectRedisDurableOnItsSocket],
    [
      'redis listening on TCP too',
      (c) => {
        const redis = service(c, 'redis');
        redis.command = [redis.command ?? []]
          .flat()
          .filter((arg, i, all) => arg !== '--port' && all[i - 1] !== '--port');
      },
      expectRedisDurableOnItsSocket,
    ],
    [
      "redis's socket open to everyone",
      (c) => {
        const redis = service(c, 'redis');
        redis.command = [redis.command ?? []].flat().map((arg) => (arg === '660' ? '666' : arg));
      },
      expectRedisDurableOnItsSocket,
    ],
    [
      "redis's socket mounted into the dev IdP",
      (c) => (service(c, 'dev-idp').volumes ??= []).push(`redis-socket:${REDIS_SOCKET_DIR}:ro`),
      expectRedisDurableOnItsSocket,
    ],
    [
      "redis's socket writable by the router",
      (c) => writable(c, 'router', REDIS_SOCKET_DIR),
      expectRedisDurableOnItsSocket,
    ],
    [
      'supervisor on the edge network',
      (c) => (service(c, 'supervisor').networks = { 'supervisor-telemetry': null, edge: null }),
      expectMetricsReachPrometheusAlone,
    ],
    [
      'router on the supervisor-telemetry network',
      (c) =>
        (service(c, 'router').networks = {
          edge: null,
          'router-telemetry': null,
          'supervisor-telemetry': null,
        }),
      expectMetricsReachPrometheusAlone,
    ],
    [
      'a metrics network with a route out',
      (c) => (c.networks = { ...c.networks, 'router-telemetry': { internal: false } }),
      expectMetricsReachPrometheusAlone,
    ],
    [
      'Prometheus published on every interface',
      (c) => (service(c, 'prometheus').ports = ['9090:9090']),
      expectMetricsReachPrometheusAlone,
    ],
    [
      'Prometheus with the Docker socket',
      (c) => (service(c, 'prometheus').volumes ??= []).push(`${DOCKER_SOCKET}:${DOCKER_SOCKET}:ro`),
      expectMetricsReachPrometheusAlone,
    ],
    ['Prometheus as root', (c) => (service(c, 'prometheus').user = '0:0'), expectMetricsReachPrometheusAlone],
    [
      'router on the host network',
      (c) => (service(c, 'router').network_mode = 'host'),
      expectOnlySupervisorHoldsDocker,
    ],
    ['dev IdP always on', (c) => delete service(c, 'dev-idp').profiles, expectDevIdpOnlyInDevProfile],
    ['CLI started by up', (c) => delete service(c, 'cli').profiles, expectDevIdpOnlyInDevProfile],
    [
      'redis from a registry',
      (c) => (service(c, 'redis').image = 'redis:7-bookworm'),
      expectImagesBuiltLocally,
    ],
    [
      'control plane built by docker-compose',
      (c) => (service(c, 'router').build = { context: '.' }),
      expectImagesBuiltLocally,
    ],
    ['redis writable root', (c) => delete service(c, 'redis').read_only, expectRedisDurableOnItsSocket],
    ['CLI as root', (c) => (service(c, 'cli').user = '0:0'), expectCliConfined],
    ['CLI on the edge network', (c) => onEdge(c, 'cli'), expectCliConfined],
    [
      'CLI with the private key',
      (c) => (service(c, 'cli').secrets = ['call_assertion_key']),
      expectCliConfined,
    ],
    [
      'the packs directory writable by the supervisor',
      (c) => writable(c, 'supervisor', PACKS_DIR),
      expectPacksReadOnlyInCliAndSupervisor,
    ],
    [
      'the packs directory in the router',
      (c) => (service(c, 'router').volumes ??= []).push(`./packs:${PACKS_DIR}:ro`),
      expectPacksReadOnlyInCliAndSupervisor,
    ],
    [
      'audit signing key in the router',
      (c) => (service(c, 'router').secrets ??= []).push('audit_signing_key'),
      expectKeysSplit,
    ],
    [
      'audit segments writable by the CLI',
      (c) => writable(c, 'cli', AUDIT_DIR),
      expectAuditSealedBySupervisorAlone,
    ],
    [
      'audit segments mounted into the router',
      (c) => (service(c, 'router').volumes ??= []).push(`audit-segments:${AUDIT_DIR}:ro`),
      expectAuditSealedBySupervisorAlone,
    ],
    [
      "the egress gateway in the audit readers' group",
      (c) => (service(c, 'egress').group_add ??= []).push('10005'),
      expectAuditSealedBySupervisorAlone,
    ],
    [
      'the supervisor without its signing key (entries never sealed)',
      (c) => delete service(c, 'supervisor').environment?.BULKHEAD_AUDIT_SIGNING_KEY_FILE,
      expectAuditSealedBySupervisorAlone,
    ],
  ];

  for (const [title, weaken, check] of weakened) {
    it(title, () => {
      const copy = structuredClone(base);
      weaken(copy);
      expect(() => check(copy)).toThrow();
    });
  }
});

describe('deploy/compose/tracing.yml over docker-compose.yml', () => {
  const TRACING = ['-f', join(ROOT, 'deploy/compose/tracing.yml')];
  const collectorEnv = {
    BULKHEAD_OTLP_COLLECTOR_IMAGE: 'otelcol.example.test/collector:1',
    BULKHEAD_OTLP_COLLECTOR_CONFIG: '/etc/example/collector.yaml',
  };
  const traced = loadComposeConfig({ BULKHEAD_ISSUER: ISSUER, ...collectorEnv }, TRACING);

  it("keeps every boundary of docker-compose.yml, and confines the collector to the exporters' networks", () => {
    for (const check of Object.values(CHECKS)) if (check !== expectImagesBuiltLocally) check(traced);
    // Every image but the collector's (the operator's own) is still built on this host.
    const ours = structuredClone(traced);
    delete ours.services[COLLECTOR];
    expectImagesBuiltLocally(ours);
    expectTracesReachCollectorAlone(traced);
  });

  it("refuses to start without the collector's image and configuration", () => {
    const { BULKHEAD_OTLP_COLLECTOR_CONFIG: config, BULKHEAD_OTLP_COLLECTOR_IMAGE: image } = collectorEnv;
    const without = (env: Record<string, string>) => () =>
      compose([...TRACING, 'config', '-q'], { BULKHEAD_ISSUER: ISSUER, ...env });
    expect(without({ BULKHEAD_OTLP_COLLECTOR_CONFIG: config })).toThrow(/BULKHEAD_OTLP_COLLECTOR_IMAGE/);
    expect(without({ BULKHEAD_OTLP_COLLECTOR_IMAGE: image })).toThrow(/BULKHEAD_OTLP_COLLECTOR_CONFIG/);
  });

  const weakened: [string, (c: ComposeConfig) => void][] = [
    [
      'the collector on the edge network',
      (c) => Object.assign(service(c, COLLECTOR).networks ?? {}, { edge: null }),
    ],
    [
      'the supervisor on the router-telemetry network',
      (c) => Object.assign(service(c, 'supervisor').networks ?? {}, { 'router-telemetry': null }),
    ],
    ['a route out from egress-telemetry', (c) => (c.networks = { ...c.networks, 'egress-telemetry': {} })],
    [
      'another service on collector-out',
      (c) => Object.assign(service(c, 'egress').networks ?? {}, { 'collector-out': null }),
    ],
    ['the collector published', (c) => (service(c, COLLECTOR).ports = ['4318:4318'])],
    ['the collector as root', (c) => (service(c, COLLECTOR).user = '0:0')],
    ['the collector with a writable root', (c) => delete service(c, COLLECTOR).read_only],
    [
      'the collector with the Docker socket',
      (c) => service(c, COLLECTOR).volumes?.push(`${DOCKER_SOCKET}:${DOCKER_SOCKET}:ro`),
    ],
    [
      "the collector's configuration writable",
      (c) => (service(c, COLLECTOR).volumes = ['/etc/example/collector.yaml:/etc/bulkhead/collector.yaml']),
    ],
    ['the collector with a key', (c) => (service(c, COLLECTOR).secrets = ['egress_gateway_key'])],
    [
      'the router exporting elsewhere',
      (c) =>
        Object.assign(service(c, 'router').environment ?? {}, {
          BULKHEAD_OTLP_TRACES_ENDPOINT: 'http://traces.example.test/v1/traces',
        }),
    ],
    [
      'the audit feed sent elsewhere',
      (c) =>
        Object.assign(service(c, 'supervisor').environment ?? {}, {
          BULKHEAD_AUDIT_OTLP_LOGS_ENDPOINT: 'http://siem.example.test/v1/logs',
        }),
    ],
  ];
  for (const [title, weaken] of weakened) {
    it(`catches ${title}`, () => {
      const copy = structuredClone(traced);
      weaken(copy);
      expect(() => expectTracesReachCollectorAlone(copy)).toThrow();
    });
  }

  it("catches Redis's socket in the collector", () => {
    const copy = structuredClone(traced);
    service(copy, COLLECTOR).volumes?.push(`redis-socket:${REDIS_SOCKET_DIR}:ro`);
    expect(() => expectRedisDurableOnItsSocket(copy)).toThrow();
  });
});
