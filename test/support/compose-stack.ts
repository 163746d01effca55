// The containers of a docker-compose stack a test brought up, as Docker sees them: waits bounded by
// the service containers' own verdicts, their healthchecks', and what the stack left on the engine.
import type Docker from 'dockerode';
import { LABELS } from '../../supervisor/docker/labels.ts';

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
