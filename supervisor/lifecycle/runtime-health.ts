// How the lifecycle controller learns whether a runtime answers: one probe (for a running runtime
// and the health pass), and the wait for a starting one. A tampered socket (never connected to) is
// recorded as the security event it is and reported as such, so that the controller replaces the
// runtime instead of waiting on it.
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { RuntimeSocketTamperedError } from '../client/runtime-socket.ts';
import type { TamperRecorder, TamperWitness } from '../client/socket-tamper.ts';
import {
  probeHealth,
  socketListening,
  START_PROBE_MS,
  type HealthProbe,
  type ListeningCheck,
} from '../runtime/health-probe.ts';
import type { RuntimeInfo, RuntimeView } from '../runtime/runtime-driver.ts';
import type { Health } from './observation-policy.ts';

export interface RuntimeHealthOptions {
  view: Pick<RuntimeView, 'inspect'>;
  probe?: HealthProbe | undefined;
  /** Whether the socket of a runtime woken from paused is listening (default: a connection to it). */
  listening?: ListeningCheck | undefined;
  tamper?: TamperRecorder | undefined;
  /** How long a starting runtime may take to answer. */
  healthTimeoutMs: number;
  /** How long one probe of a running runtime may take to answer (supervisor/config.ts). */
  liveProbeMs: number;
}

/**
 * Under gVisor the sandbox's gofer creates a runtime's socket on the host as root and then hands it
 * to the tenant's UID: measured here, a host `lstat` loop sees one root-owned sample in the first
 * moments of about five of six starts. While a runtime starts, such a socket is not ready yet rather
 * than tampered with: the probe has not connected to it (the inode check comes first), and the
 * tenant cannot make a root-owned file itself (no capabilities, no user namespace shared with the
 * host). Only the start wait tolerates it, and only until its deadline (then the start fails like
 * any start that never answers); anything else found there,
 * and a root-owned socket at any later time, is the security event.
 */
function beingCreated(error: RuntimeSocketTamperedError): boolean {
  return error.found.kind === 'socket' && error.found.uid === 0;
}

export class RuntimeHealth {
  private readonly options: RuntimeHealthOptions;

  constructor(options: RuntimeHealthOptions) {
    this.options = options;
  }

  /**
   * One probe. A running runtime (the health pass, an ensure finding it up) gets `liveProbeMs` to
   * answer: its probe waits behind the calls it is serving, and replacing a runtime that is slow
   * only because it is busy kills those calls and adds a start to the load that made it slow.
   */
  async check(
    info: RuntimeInfo,
    witness: TamperWitness,
    deadlineMs = this.options.liveProbeMs,
  ): Promise<Health> {
    try {
      const probe = this.options.probe ?? probeHealth;
      return (await probe(info.endpoint, deadlineMs)) ? 'healthy' : 'unhealthy';
    } catch (error) {
      if (!(error instanceof RuntimeSocketTamperedError)) throw error;
      if (witness === 'supervisor-start' && beingCreated(error)) return 'unhealthy';
      await this.options.tamper?.record(info.tenantId, error, witness);
      return 'tampered';
    }
  }

  /**
   * A runtime woken from paused is the process that was frozen, resumed where it stopped: it needs
   * no new start-up wait, only the check that its socket is still the tenant's and listening (a
   * connection to the checked inode, nothing sent). That is a few hundred microseconds where the
   * health endpoint's MCP ping and pack ping take several milliseconds on a process just thawed.
   * Whether it still answers is the health pass's question, as for any running runtime, and each
   * call's own deadline. Tampering fails the wake as it fails a start; nothing listening (the
   * process ended while frozen) falls back to the start wait, which sees the exit.
   */
  async waitUntilResumed(info: RuntimeInfo, onExit: (ended: RuntimeInfo) => void): Promise<void> {
    const listening = this.options.listening ?? socketListening;
    try {
      if (await listening(info.endpoint)) return;
    } catch (error) {
      if (!(error instanceof RuntimeSocketTamperedError)) throw error;
      await this.options.tamper?.record(info.tenantId, error, 'supervisor-start');
      throw new BulkheadError('runtime_failed', `runtime for ${info.tenantId} tampered with its socket`);
    }
    await this.waitUntilHealthy(info, onExit);
  }

  /**
   * Polls the health endpoint; gives up early when the process has already exited (`onExit` sees
   * the ended runtime, so that its crash is not counted a second time).
   */
  async waitUntilHealthy(info: RuntimeInfo, onExit: (ended: RuntimeInfo) => void): Promise<void> {
    const { healthTimeoutMs } = this.options;
    const deadline = Date.now() + healthTimeoutMs;
    let lastInspect = Date.now();
    for (;;) {
      // A starting runtime is probed again and again: each probe is short.
      const health = await this.check(info, 'supervisor-start', START_PROBE_MS);
      if (health === 'healthy') return;
      if (health === 'tampered')
        throw new BulkheadError(
          'runtime_failed',
          `runtime for ${info.tenantId} tampered with its socket during start`,
        );
      if (Date.now() - lastInspect > 200) {
        lastInspect = Date.now();
        const now = await this.options.view.inspect(info.tenantId);
        if (!now || now.state === 'stopped') {
          if (now) onExit(now);
          throw new BulkheadError(
            'runtime_failed',
            `runtime for ${info.tenantId} exited during start (code ${now?.exit?.code ?? '?'})`,
          );
        }
      }
      if (Date.now() >= deadline)
        throw new BulkheadError(
          'runtime_failed',
          `runtime did not become healthy within ${healthTimeoutMs} ms`,
        );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
