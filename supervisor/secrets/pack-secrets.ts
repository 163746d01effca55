// The secrets a tenant's packs get at start: the names each enabled pack declares in its manifest,
// the values from the tenant's encrypted store (kernel/secrets/secret-store.ts). Read afresh for
// every start and held nowhere here, so a rotated value reaches the pack on its next recycle and an
// offboarded tenant's destroyed values reach nothing. The names the egress gateway adds as an
// upstream's credential are never delivered: those values stay outside the container.
import type { Logger } from 'pino';
import type { PackSecrets } from '../../kernel/packs/enabled-packs.ts';
import type { SecretStore } from '../../kernel/secrets/secret-store.ts';
import type { TenantRecord } from '../../kernel/tenant/tenant-spec.ts';

/** The secret names one enabled pack declares (its approved manifest's `secrets`). */
export interface DeclaredSecrets {
  pack: string;
  names: readonly string[];
}

/** The secret names the egress gateway adds as an upstream's credential for this tenant. */
function gatewayCredentials(tenant: TenantRecord): Set<string> {
  const { egress } = tenant;
  if (egress.mode !== 'allowlist') return new Set();
  return new Set(Object.values(egress.upstreams).flatMap((u) => (u.credential ? [u.credential.secret] : [])));
}

/** The values a tenant's packs get at their next start, by pack. */
export type PackSecretSource = (tenant: TenantRecord) => Promise<PackSecrets>;

export function packSecretSource(options: {
  declared: (tenant: TenantRecord) => Promise<DeclaredSecrets[]> | DeclaredSecrets[];
  /** The store; undefined when no key is configured or the key file does not exist yet. */
  store: () => Promise<Pick<SecretStore, 'get'> | undefined> | Pick<SecretStore, 'get'> | undefined;
  logger: Logger;
}): PackSecretSource {
  return async (tenant) => {
    const declared = (await options.declared(tenant)).filter((d) => d.names.length > 0);
    if (declared.length === 0) return {};
    const store = await options.store();
    if (!store) {
      options.logger.warn(
        { tenant: tenant.id, packs: declared.map((d) => d.pack) },
        'packs declare secrets but the secret store has no key: starting them without',
      );
      return {};
    }
    const gateway = gatewayCredentials(tenant);
    const secrets: PackSecrets = {};
    for (const { pack, names } of declared) {
      const values: Record<string, string> = {};
      for (const name of names) {
        // A name the gateway adds to an upstream's requests never enters the container, whatever
        // a pack declares (docs/egress.md): a pack naming it is started without it.
        if (gateway.has(name)) {
          options.logger.warn(
            { tenant: tenant.id, pack, secret: name },
            'a pack declares a secret the egress gateway holds for an upstream: not delivered',
          );
          continue;
        }
        const value = await store.get(tenant.id, name);
        // The pack starts without it and answers for itself; the operator sees the name, never a value.
        if (value === undefined)
          options.logger.warn({ tenant: tenant.id, pack, secret: name }, 'declared secret not set');
        else values[name] = value;
      }
      secrets[pack] = values;
    }
    return secrets;
  };
}
