// Produces a tenant's isolation evidence report: the live container's configuration checked against
// each control of docs/architecture.md (from the engine), plus probes run inside the container.
// Runs in the supervisor, the only process that holds the Docker socket.
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { IsolationCheck, IsolationReport } from '../client/isolation-report.ts';
import type { DockerDriver } from '../docker/docker-driver.ts';
import type { Placement } from '../docker/container-spec.ts';
import { containerChecks, diskCheck } from './container-checks.ts';
import { liveSandboxQuota } from '../docker/sandbox-cpu.ts';
import { ignoreStatus } from '../docker/engine-status.ts';
import { probeChecks, type ProbeObservation } from './probe-checks.ts';
import { probeRoots } from './other-tenants.ts';
import { PROBE_SCRIPT } from './probe-script.ts';
import { socketChecks } from './socket-checks.ts';
import { CONTAINER_SOCKET_NAME } from '../../kernel/wire/runtime-endpoint.ts';
import { join } from 'node:path';

export interface IsolationVerifierOptions {
  docker: Docker;
  driver: Pick<DockerDriver, 'placement' | 'pausedBy' | 'disk'>;
  probeTimeoutMs?: number;
  /**
   * Resolves once the tenant's start-time CPU boost is over (at most its deadline): the evidence is
   * taken after it, so that the live CPU limit it checks is the one the runtime keeps.
   */
  cpuBoostSettled?: (tenantId: string) => Promise<void>;
}

const PROBE_MAX_OUTPUT_BYTES = 1024 * 1024;

async function execProbe(
  container: Docker.Container,
  env: string[],
  timeoutMs: number,
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const exec = await container.exec({
    Cmd: ['node', '-e', PROBE_SCRIPT],
    Env: env,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  // The probe lists directories the tenant controls (its socket directory): its output is bounded.
  let bytes = 0;
  const collect = (into: Buffer[]) => (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > PROBE_MAX_OUTPUT_BYTES)
      stream.destroy(new Error(`probe output exceeded ${PROBE_MAX_OUTPUT_BYTES} bytes`));
    else into.push(chunk);
  };
  stdout.on('data', collect(out));
  stderr.on('data', collect(err));
  // The exec stream multiplexes stdout and stderr (8-byte frame headers); the modem splits them.
  (
    container.modem as { demuxStream(s: NodeJS.ReadableStream, o: PassThrough, e: PassThrough): void }
  ).demuxStream(stream, stdout, stderr);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      reject(new Error(`probe did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    stream.on('end', () => {
      clearTimeout(timer);
      resolve();
    });
    stream.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  const { ExitCode } = await exec.inspect();
  return {
    exitCode: ExitCode ?? -1,
    stdout: Buffer.concat(out).toString(),
    stderr: Buffer.concat(err).toString(),
  };
}

export class IsolationVerifier {
  private readonly options: IsolationVerifierOptions;

  constructor(options: IsolationVerifierOptions) {
    this.options = options;
  }

  async verify(tenant: TenantRecord, others: string[]): Promise<IsolationReport> {
    await this.options.cpuBoostSettled?.(tenant.id);
    const placement = this.options.driver.placement(tenant.id, 0);
    const container = this.options.docker.getContainer(placement.containerName);
    const info = await ignoreStatus(container.inspect(), 404);
    const checks: IsolationCheck[] = [];
    // A frozen container runs no probe: the engine refuses to exec in one it paused, and one the
    // supervisor froze in its host cgroup would hold the probe until its deadline.
    const paused = info && (await this.options.driver.pausedBy(info));
    if (!info || !info.State.Running || paused) {
      checks.push({
        id: 'runtime.running',
        control: 'a live container to check',
        source: 'docker',
        pass: false,
        why: !info
          ? 'the tenant has no container (it starts on the first call)'
          : paused
            ? 'the container is paused (it wakes on the next call)'
            : `the container is ${info.State.Status}`,
      });
    } else {
      checks.push(...containerChecks(info, tenant, placement));
      checks.push(diskCheck(await this.options.driver.disk(tenant.id), tenant, placement));
      const sandboxCpu = await liveSandboxQuota(info);
      checks.push(...(await this.probe(container, tenant, { others, sandboxCpu, placement })));
      const socketPath = join(placement.socketDir, CONTAINER_SOCKET_NAME);
      checks.push(
        ...(await socketChecks(
          { kind: 'unix', socketPath, uid: tenant.uid },
          { isolation: tenant.isolation, runtimeId: info.Id },
        )),
      );
    }
    return {
      tenantId: tenant.id,
      runtimeId: info?.Id ?? null,
      isolation: tenant.isolation,
      checkedAt: new Date().toISOString(),
      pass: checks.every((c) => c.pass),
      checks,
    };
  }

  private async probe(
    container: Docker.Container,
    tenant: TenantRecord,
    at: { others: string[]; sandboxCpu: number | undefined; placement: Placement },
  ): Promise<IsolationCheck[]> {
    // The other tenants' places stay here: the probe gets only the roots they are under, which name
    // no tenant, and reports what it sees there (other-tenants.ts).
    const others = await Promise.all(
      at.others.map(async (id) => {
        const p = this.options.driver.placement(id, 0);
        // Its disk's device too: a mount of it names the device, not the volume (tenant-disk.ts).
        const { device } = await this.options.driver.disk(id);
        return { volume: p.volumeName, socketDir: p.socketDir, ...(device ? { device } : {}) };
      }),
    );
    try {
      const result = await execProbe(
        container,
        [`PROBE_ROOTS=${JSON.stringify(probeRoots(at.placement.socketDir))}`],
        this.options.probeTimeoutMs ?? 10_000,
      );
      if (result.exitCode !== 0)
        throw new Error(`probe exited ${result.exitCode}: ${result.stderr.slice(0, 300)}`);
      const seen = JSON.parse(result.stdout) as ProbeObservation;
      return probeChecks(seen, tenant, { others, sandboxCpuQuota: at.sandboxCpu });
    } catch (error) {
      return [
        {
          id: 'probe.run',
          control: 'probes inside the container',
          source: 'probe',
          pass: false,
          why: `the probe could not run: ${(error as Error).message}`,
        },
      ];
    }
  }
}
