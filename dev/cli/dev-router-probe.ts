// Agent tokens for `verify --router`, from the development stack's IdP (what `up` left behind).
import type { RouterProbeSource } from '../../tenants/control-plane/verify.ts';
import { readDevStack } from './dev-stack-state.ts';
import { agentToken } from './token-command.ts';

export const devRouterProbe: RouterProbeSource = async (devDir) => {
  const stack = await readDevStack(devDir);
  return {
    resourceUrl: stack.resourceUrl,
    agentToken: (tenant) => agentToken(devDir, stack, tenant),
  };
};
