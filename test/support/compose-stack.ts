// A docker-compose stack for test/e2e/compose-stack.test.ts: made ready as docs/compose.md says
// (images, keys), under a namespace, ports and run directory of its own; and its containers as Docker
// sees them: waits bounded by the service containers' own verdicts, their healthchecks', and what the
// stack left on the engine.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@modelcontextprotocol/client';
import type Docker from 'dockerode';
import { LABELS } from '../../supervisor/docker/labels.ts';
import { ROOT } from './compose.ts';
import { REDIS_SOCKET, REDIS_SOCKET_DIR } from './compose-checks.ts';
import { RUNTIME_IMAGE, type TestNamespace } from './namespace.ts';
import { logsAt } from './otlp-receiver.ts';
import { FIXTURE_PACKS } from './pack-image.ts';
import { freePort } from './stack.ts';

const execFileAsync = promisify(execFile);

/**
 * The packs a prepared stack's packs directory holds: the examples in Python and from npm, and the
 * test's fetcher (test/support/fixtures/packs/), which calls out through the egress gateway.
 */
export const PACKS = ['notes', 'files', 'fetcher'] as const;

/** What the test needs to drive a prepared stack. */
export interface PreparedStack {
  /** The environment every docker-compose command of the stack runs with. */
  env: Record<string, string>;
  /** The files after docker-compose.yml: the tracing override, and the test's collector on top of it. */
  overrides: string[];
  mcpUrl: string;
  issuer: string;
  prometheusUrl: string;
  /** The test's OTLP receiver, the stack's collector: where its GET /spans is published. */
  collectorUrl: string;
  /** The host's packs directory (BULKHEAD_PACKS_DIR), holding PACKS. */
  packsDir: string;
  /** The packs' version there: this run's own (pack image tags are the engine's, global). */
  packVersion: string;
}

/**
 * Builds the images (tagged with the namespace: removed by the test), makes the keys, picks free host
 * ports and writes the test's collector override, all under the namespace's run directory.
 */
export async function prepareComposeStack(ns: TestNamespace): Promise<PreparedStack> {
  // Socket directories must be reachable by the router's group through this directory.
  await chmod(ns.runDir, 0o755);
  const runDir = join(ns.runDir, 'run');
  const keysDir = join(ns.runDir, 'keys');
  await mkdir(runDir, { mode: 0o755 });
  // The image tag of this run alone: compose names images by it; removed afterwards.
  const tag = ns.namespace;
  // The runtime image is the one every test uses (setup builds it); the script builds the others.
  await execFileAsync('bash', [join(ROOT, 'runtime-image/build-compose-images.sh')], {
    env: { ...process.env, BULKHEAD_VERSION: tag, BULKHEAD_RUNTIME_IMAGE: RUNTIME_IMAGE },
    timeout: 600_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  // The key pairs as docs/compose.md makes them: the router's group may read the router's
  // private key, the egress gateway's UID owns its own.
  await execFileAsync(process.execPath, [join(ROOT, 'tenants/cli/main.ts'), 'keygen', '--out', keysDir]);
  await execFileAsync(process.execPath, [
    join(ROOT, 'tenants/cli/main.ts'),
    'audit',
    'keygen',
    '--out',
    keysDir,
  ]);
  await execFileAsync('chgrp', ['10001', join(keysDir, 'call-assertion.key')]);
  await chmod(join(keysDir, 'call-assertion.key'), 0o640);
  await execFileAsync('chown', ['10002', join(keysDir, 'egress-gateway.key')]);
  const [routerPort, idpPort, prometheusPort] = [await freePort(), await freePort(), await freePort()];
  const prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
  // The collector: the test's OTLP receiver in the control-plane image (which has Node), run from
  // this checkout, its port published on loopback for the test to read what it received.
  const collectorPort = await freePort();
  const collectorUrl = `http://127.0.0.1:${collectorPort}`;
  const collectorConfig = join(ns.runDir, 'collector.yaml');
  await writeFile(collectorConfig, '# The test receiver takes no configuration.\n');
  const testCollector = join(ns.runDir, 'test-collector.yml');
  await writeFile(
    testCollector,
    [
      'services:',
      '  otlp-collector:',
      "    entrypoint: ['node', '/receiver/otlp-receiver-main.ts']",
      '    volumes:',
      `      - ${join(ROOT, 'test/support')}:/receiver:ro`,
      '    ports:',
      `      - '127.0.0.1:${collectorPort}:4318'`,
      '',
    ].join('\n'),
  );
  const overrides = ['-f', join(ROOT, 'deploy/compose/tracing.yml'), '-f', testCollector];
  const mcpUrl = `http://127.0.0.1:${routerPort}/mcp`;
  const issuer = `http://127.0.0.1:${idpPort}`;
  // The operator's packs (PACKS), the filesystem server's dependencies installed on this host as
  // docs/compose.md says; each under a version of this run's own.
  const packsDir = join(ns.runDir, 'packs');
  const packVersion = `1.0.0-${ns.namespace.split('-').at(-1) ?? 'compose'}`;
  for (const name of PACKS) {
    const source = name === 'fetcher' ? join(FIXTURE_PACKS, name) : join(ROOT, 'examples/packs', name);
    await cp(source, join(packsDir, name), { recursive: true });
    const manifestFile = join(packsDir, name, 'bulkhead-pack.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as Record<string, unknown>;
    await writeFile(manifestFile, JSON.stringify({ ...manifest, version: packVersion }, null, 2));
  }
  // The fetcher's stdio loop, next to it: the pack directory is whole.
  await cp(join(FIXTURE_PACKS, 'stdio-server.mjs'), join(packsDir, 'fetcher', 'stdio-server.mjs'));
  await execFileAsync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: join(packsDir, 'files'),
    timeout: 300_000,
  });
  const env = {
    BULKHEAD_VERSION: tag,
    BULKHEAD_NAMESPACE: ns.namespace,
    BULKHEAD_RUNTIME_IMAGE: RUNTIME_IMAGE,
    BULKHEAD_RUN_DIR: runDir,
    BULKHEAD_KEYS_DIR: keysDir,
    BULKHEAD_ROUTER_PUBLISHED_PORT: String(routerPort),
    BULKHEAD_IDP_PUBLISHED_PORT: String(idpPort),
    BULKHEAD_PROMETHEUS_PUBLISHED_PORT: String(prometheusPort),
    BULKHEAD_ISSUER: issuer,
    BULKHEAD_JWKS_URI: 'http://dev-idp:9400/jwks',
    BULKHEAD_RESOURCE_URL: mcpUrl,
    BULKHEAD_IDP_INITIAL_ACCESS_TOKEN: randomBytes(24).toString('hex'),
    BULKHEAD_ACTOR: 'compose-test',
    BULKHEAD_OTLP_COLLECTOR_IMAGE: `bulkhead/control-plane:${tag}`,
    BULKHEAD_OTLP_COLLECTOR_CONFIG: collectorConfig,
    // Seal every 2 s instead of every 5 minutes, so that the test sees the calls sealed.
    BULKHEAD_AUDIT_SEAL_INTERVAL_MS: '2000',
    BULKHEAD_PACKS_DIR: packsDir,
  };
  return { env, overrides, mcpUrl, issuer, prometheusUrl, collectorUrl, packsDir, packVersion };
}

/** Restarts of a service's container (its `restart: unless-stopped`) a wait puts up with. */
const MAX_RESTARTS = 3;

const byLabel = (label: string): { label: string[] } => ({ label: [label] });

interface ContainerState {
  running: boolean;
  restarting: boolean;
  restarts: number;
  /** Its own healthcheck's verdict (docker-compose.yml's `healthcheck:`), where it has one. */
  health: string | undefined;
}

export interface ComposeStackView {
  /**
   * Waits until `probe` holds, for as long as the service's container is still trying: the wait
   * fails once the container has stopped for good, restarted more than MAX_RESTARTS times or been
   * found unhealthy by its own healthcheck. Docker's own verdicts, not a clock: a loaded machine
   * makes them slower to come, never early. (A container that hangs without a verdict is stopped by
   * the test's `down`, which ends the wait too.)
   */
  waitFor(what: string, service: string, probe: () => Promise<boolean>): Promise<void>;
  /** A running service's healthcheck verdict (undefined when it is not running). */
  health(service: string): Promise<string | undefined>;
  /** What is left on the engine of this stack: by compose project, and by the tenant namespace. */
  leftovers(): Promise<{ containers: string[]; volumes: string[]; networks: string[] }>;
  /** A running service's address on one of the stack's networks (its name in the file). */
  addressOf(service: string, network: string): Promise<string>;
}

/** `project`: the compose project's name; `namespace`: the installation's (its tenant containers). */
export function composeStackView(options: {
  docker: Docker;
  project: string;
  namespace: string;
}): ComposeStackView {
  const { docker, project, namespace } = options;

  /** Docker's view of a service's container, running or not; undefined when there is none. */
  const containerState = async (service: string): Promise<ContainerState | undefined> => {
    const [container] = await docker.listContainers({
      all: true,
      filters: { label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`] },
    });
    if (!container) return undefined;
    const { State, RestartCount } = await docker.getContainer(container.Id).inspect();
    return {
      running: State.Running,
      restarting: State.Restarting,
      restarts: RestartCount,
      health: State.Health?.Status,
    };
  };

  return {
    async waitFor(what, service, probe) {
      for (;;) {
        if (await probe().catch(() => false)) return;
        const state = await containerState(service);
        const gaveUp =
          !state ||
          (!state.running && !state.restarting) ||
          state.restarts > MAX_RESTARTS ||
          state.health === 'unhealthy';
        if (gaveUp)
          throw new Error(`${what} not ready: the ${service} container is ${JSON.stringify(state)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },

    async addressOf(service, network) {
      const [container] = await docker.listContainers({
        filters: {
          label: [`com.docker.compose.project=${project}`, `com.docker.compose.service=${service}`],
        },
      });
      const address = container?.NetworkSettings.Networks[`${project}_${network}`]?.IPAddress;
      if (!address) throw new Error(`${service} has no address on ${network}`);
      return address;
    },

    async health(service) {
      const state = await containerState(service);
      return state?.running ? state.health : undefined;
    },

    async leftovers() {
      const projectLabel = `com.docker.compose.project=${project}`;
      const namespaceLabel = `${LABELS.namespace}=${namespace}`;
      const containers = [
        ...(await docker.listContainers({ all: true, filters: byLabel(projectLabel) })),
        ...(await docker.listContainers({ all: true, filters: byLabel(namespaceLabel) })),
      ].map((c) => c.Names.join(','));
      const volumes = [
        ...((await docker.listVolumes({ filters: byLabel(projectLabel) })).Volumes ?? []),
        ...((await docker.listVolumes({ filters: byLabel(namespaceLabel) })).Volumes ?? []),
      ].map((v) => v.Name);
      const networks = (await docker.listNetworks({ filters: byLabel(projectLabel) })).map((n) => n.Name);
      return { containers, volumes, networks };
    },
  };
}

/**
 * What a process of the router's UID says when it connects to Redis's socket from a container of
 * `image` that mounts the socket's `volume` (no network, read-only root), in `groups` besides its
 * own: `connected`, or its connection error's code.
 */
export function connectToRedisSocket(options: {
  volume: string;
  image: string;
  groups: string[];
}): Promise<string> {
  return execFileAsync('docker', [
    'run',
    '--rm',
    '--network',
    'none',
    '--read-only',
    '-u',
    '10001:10001',
    ...options.groups.flatMap((group) => ['--group-add', group]),
    '-v',
    `${options.volume}:${REDIS_SOCKET_DIR}:ro`,
    '--entrypoint',
    'node',
    options.image,
    '-e',
    `require('node:net').connect(${JSON.stringify(REDIS_SOCKET)})` +
      ".on('connect', () => { console.log('connected'); process.exit(0); })" +
      ".on('error', (error) => { console.log(error.code); process.exit(3); })",
  ]).then(
    ({ stdout }) => stdout.trim(),
    (error: { stdout?: string }) => (error.stdout ?? '').trim(),
  );
}

/** What the fetcher pack's `get` answered for `url`: the upstream's status and body. */
export async function fetcherGet(mcp: Client, url: string): Promise<{ status?: number; body?: string }> {
  const answer = await mcp.callTool({ name: 'fetcher_get', arguments: { url } });
  return answer.structuredContent as { status?: number; body?: string };
}

/**
 * The tools named by `tenant`'s records calls among the audit records the collector received as OTLP
 * logs (deploy/compose/tracing.yml), each from a sealed segment, sorted.
 */
export async function shippedTools(collectorUrl: string, tenant: string): Promise<string[]> {
  return (await logsAt(collectorUrl))
    .map((log) => log.body as { tenant: string; tool: string; segment: number })
    .filter((body) => body.tenant === tenant && body.tool.startsWith('records_') && body.segment > 0)
    .map((body) => body.tool)
    .sort();
}

/**
 * Removes the images of this run alone: the compose images tagged with its namespace and the packs
 * built under its version. The content-hash tags stay for the next run.
 */
export async function removeStackImages(namespace: string, packVersion: string | undefined): Promise<void> {
  const images = ['control-plane', 'dev-idp', 'redis', 'prometheus'].map(
    (name) => `bulkhead/${name}:${namespace}`,
  );
  if (packVersion) images.push(...PACKS.map((name) => `bulkhead/pack-${name}:${packVersion}`));
  await execFileAsync('docker', ['rmi', ...images]).catch(() => undefined);
}
