// A supervisor and the control plane over one test namespace, without a router: what the control
// plane's commands (onboard, update, offboard) drive, against the real engine and Redis.
import { join } from 'node:path';
import { pino } from 'pino';
import {
  startSupervisor,
  type RunningSupervisor,
  type SupervisorOptions,
} from '../../supervisor/supervisor.ts';
import { ensureCallKeys } from '../../tenants/control-plane/call-keys.ts';
import { openControlPlane, type OpenedControlPlane } from '../../tenants/control-plane/context.ts';
import { REDIS_URL, RUNTIME_IMAGE, type TestNamespace } from './namespace.ts';

export interface ControlPlaneStack {
  supervisor: RunningSupervisor;
  cp: OpenedControlPlane;
  /** Closes the control plane, then the supervisor. */
  close(): Promise<void>;
}

/** `supervisor`: settings of the supervisor beyond the test's defaults (its metrics port, ...). */
export async function startControlPlaneStack(
  ns: TestNamespace,
  options: { actor: string; supervisor?: Partial<SupervisorOptions> },
): Promise<ControlPlaneStack> {
  const supervisor = await startSupervisor({
    installation: ns.installation,
    runDir: join(ns.runDir, 'run'),
    image: RUNTIME_IMAGE,
    routerPublicKeyFile: (await ensureCallKeys(join(ns.runDir, 'keys'))).publicKeyFile,
    routerGid: 0,
    logger: pino({ level: 'silent' }),
    ...options.supervisor,
  });
  const cp = await openControlPlane({
    redisUrl: REDIS_URL,
    namespace: ns.namespace,
    secretsKeyFile: join(ns.runDir, 'secrets.key'),
    actor: options.actor,
  });
  return {
    supervisor,
    cp,
    async close() {
      await cp.close();
      await supervisor.close();
    },
  };
}
