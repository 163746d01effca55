// A tenant's downstream credentials: the value goes encrypted into the secret store, the registry
// record keeps only its reference (a new generation, so the change log shows who set which name).
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import type { ControlPlane } from './context.ts';

const SECRET_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;
export const SECRET_NAME_RULE = 'a secret NAME is A-Z, 0-9 and _, starting with a letter';

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Stores `value` under `name` for tenant `id`; returns its reference (`secret://<id>/<NAME>`). */
export async function setSecret(cp: ControlPlane, id: string, name: string, value: string): Promise<string> {
  if (!isSecretName(name)) throw new BulkheadError('invalid_input', SECRET_NAME_RULE);
  if (!value) throw new BulkheadError('invalid_input', `no value for secret ${name}`);
  const tenant = await cp.registry.require(id);
  const ref = await cp.secrets.put(id, name, value);
  const secrets = [...tenant.secrets.filter((s) => s.name !== name), { name, ref }];
  try {
    await cp.registry.update(id, {
      expectedGeneration: tenant.generation,
      changes: { secrets },
      author: { actor: cp.actor, reason: `secret ${name} set` },
    });
  } catch (error) {
    // Offboarded since the record was read (its secrets destroyed before the value landed): the
    // value would outlive the tenant, readable by the same id onboarded again. Offboarding destroys
    // the secrets once more after the record's delete, for a value that lands before this update.
    if (!(await cp.registry.get(id))) await cp.secrets.destroyAll(id);
    throw error;
  }
  return ref;
}
