// The reuse key of a tenant runtime: a hash of everything its RuntimeSpec says. Lives beside the
// port, not in the Docker adapter, because the lifecycle decides reuse-or-replace with it.
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../kernel/tools/tool-definition.ts';
import type { RuntimeSpec } from './runtime-driver.ts';

/** Stable hash of what the container is made from: a different hash means recycle, not reuse. */
export function specHash(spec: RuntimeSpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 16);
}
