// A tenant's downstream credentials: the value goes encrypted into the secret store, the registry
// record keeps only its reference (a new generation, so the change log shows who set which name).
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { secretRef } from '../../kernel/secrets/secret-store.ts';
import type { ControlPlane } from './context.ts';

const SECRET_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;
export const SECRET_NAME_RULE = 'a secret NAME is A-Z, 0-9 and _, starting with a letter';

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * Stores `value` under `name` for tenant `id`; returns its reference (`secret://<id>/<NAME>`). The
 * value is written by the record's update script, only with the generation that references it: a
 * conflict (another change landed first) or a tenant offboarded since its read keeps the value that
 * was there, and no value outlives its tenant.
 */
export async function setSecret(
  cp: Pick<ControlPlane, 'registry' | 'secrets' | 'actor'>,
  id: string,
  name: string,
  value: string,
): Promise<string> {
  if (!isSecretName(name)) throw new BulkheadError('invalid_input', SECRET_NAME_RULE);
  if (!value) throw new BulkheadError('invalid_input', `no value for secret ${name}`);
  const tenant = await cp.registry.require(id);
  const ref = secretRef(id, name);
  await cp.registry.update(id, {
    expectedGeneration: tenant.generation,
    expectedUid: tenant.uid,
    changes: { secrets: [...tenant.secrets.filter((s) => s.name !== name), { name, ref }] },
    author: { actor: cp.actor, reason: `secret ${name} set` },
    secret: { name, sealed: cp.secrets.seal(id, name, value) },
  });
  return ref;
}
