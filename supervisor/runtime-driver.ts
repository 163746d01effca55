// The RuntimeDriver port: how the supervisor runs one isolated runtime per tenant. The dockerode
// driver implements it for one host; a cluster driver (Kubernetes, Swarm) would return a network
// endpoint instead of a socket, and nothing above this port would change.
import type { RuntimeEndpoint } from '../tenants/contracts/runtime-endpoint.ts';
import type { IsolationTier, Plan } from '../tenants/contracts/tenant-spec.ts';

/** Everything that decides what a tenant's runtime looks like; its hash is the reuse key. */
export interface RuntimeSpec {
  tenantId: string;
  uid: number;
  image: string;
  isolation: IsolationTier;
  plan: Plan;
  /** Environment for the tenant runtime (no secrets of other tenants, never an access token). */
  env: Record<string, string>;
}

export type RuntimeState = 'running' | 'paused' | 'stopped' | 'starting' | 'unknown';

export interface RuntimeInfo {
  tenantId: string;
  runtimeId: string;
  state: RuntimeState;
  specHash: string;
  generation: number;
  endpoint: RuntimeEndpoint;
  image: string;
}

export interface RemoveOptions {
  /** Also destroy the tenant's data volume and socket directory (offboarding only). */
  purgeData: boolean;
}

export interface RuntimeDriver {
  /** Create or reuse the tenant's single runtime for this spec and make sure it is started. */
  ensure(spec: RuntimeSpec): Promise<RuntimeInfo>;
  stop(tenantId: string): Promise<void>;
  pause(tenantId: string): Promise<void>;
  inspect(tenantId: string): Promise<RuntimeInfo | undefined>;
  list(): Promise<RuntimeInfo[]>;
  remove(tenantId: string, options: RemoveOptions): Promise<void>;
}
