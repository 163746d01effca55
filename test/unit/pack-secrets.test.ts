// Which values a tenant's packs are handed: only the names each pack declares, read from the store
// at the moment of the start; missing values and a missing key are logged by name, never by value.
import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { packSecretSource, type DeclaredSecrets } from '../../supervisor/secrets/pack-secrets.ts';
import { tenantRecord } from '../support/tenant.ts';

const tenant = tenantRecord('acme');

function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

function storeOf(values: Record<string, string>) {
  const asked: string[] = [];
  return {
    asked,
    store: {
      get: (id: string, name: string) => {
        asked.push(`${id}/${name}`);
        return Promise.resolve(values[`${id}/${name}`]);
      },
    },
  };
}

describe('pack secret source', () => {
  it("hands each pack only its declared names, read from the tenant's slot", async () => {
    const { store, asked } = storeOf({ 'acme/CRM_TOKEN': 'v1', 'acme/MAIL_KEY': 'v2', 'acme/OTHER': 'v3' });
    const declared: DeclaredSecrets[] = [
      { pack: 'crm', names: ['CRM_TOKEN'] },
      { pack: 'mail', names: ['MAIL_KEY'] },
      { pack: 'files', names: [] },
    ];
    const source = packSecretSource({
      declared: () => declared,
      store: () => store,
      logger: pino({ level: 'silent' }),
    });
    expect(await source(tenant)).toEqual({ crm: { CRM_TOKEN: 'v1' }, mail: { MAIL_KEY: 'v2' } });
    expect(asked).toEqual(['acme/CRM_TOKEN', 'acme/MAIL_KEY']);
  });

  it('reads afresh at every start: a rotated value is what the next start gets', async () => {
    const values = { 'acme/CRM_TOKEN': 'old' };
    const { store } = storeOf(values);
    const source = packSecretSource({
      declared: () => [{ pack: 'crm', names: ['CRM_TOKEN'] }],
      store: () => store,
      logger: pino({ level: 'silent' }),
    });
    expect(await source(tenant)).toEqual({ crm: { CRM_TOKEN: 'old' } });
    values['acme/CRM_TOKEN'] = 'new';
    expect(await source(tenant)).toEqual({ crm: { CRM_TOKEN: 'new' } });
  });

  it('starts a pack without a value it lacks and logs the name only', async () => {
    const { logger, lines } = recordingLogger();
    const { store } = storeOf({ 'acme/CRM_TOKEN': 'present-value' });
    const source = packSecretSource({
      declared: () => [{ pack: 'crm', names: ['CRM_TOKEN', 'CRM_MISSING'] }],
      store: () => store,
      logger,
    });
    expect(await source(tenant)).toEqual({ crm: { CRM_TOKEN: 'present-value' } });
    expect(lines.join('')).toContain('CRM_MISSING');
    expect(lines.join('')).not.toContain('present-value');
  });

  it("never hands a pack a secret the egress gateway adds as an upstream's credential", async () => {
    const { logger, lines } = recordingLogger();
    const { store, asked } = storeOf({ 'acme/CRM_TOKEN': 'gateway-only', 'acme/MAIL_KEY': 'v2' });
    // The credential is the gateway's, for the crm pack's upstream only: the mail pack declares
    // its name to be handed the value itself, and the crm pack would hold what it must not.
    const withUpstream = tenantRecord('acme', {
      egress: {
        mode: 'allowlist',
        hosts: [],
        packs: {},
        upstreams: {
          crm: {
            hosts: ['crm.example.com'],
            packs: ['crm'],
            credential: { header: 'authorization', secret: 'CRM_TOKEN', prefix: 'Bearer ' },
          },
        },
      },
    });
    const source = packSecretSource({
      declared: () => [
        { pack: 'crm', names: ['CRM_TOKEN'] },
        { pack: 'mail', names: ['MAIL_KEY', 'CRM_TOKEN'] },
      ],
      store: () => store,
      logger,
    });
    expect(await source(withUpstream)).toEqual({ crm: {}, mail: { MAIL_KEY: 'v2' } });
    expect(asked).toEqual(['acme/MAIL_KEY']);
    expect(lines.join('')).toContain('CRM_TOKEN');
    expect(lines.join('')).not.toContain('gateway-only');
  });

  it('without a key: no values, a warning, and no store asked when nothing is declared', async () => {
    const { logger, lines } = recordingLogger();
    let opened = 0;
    const none = packSecretSource({
      declared: () => [{ pack: 'files', names: [] }],
      store: () => {
        opened++;
        return undefined;
      },
      logger,
    });
    expect(await none(tenant)).toEqual({});
    expect(opened).toBe(0);
    const keyless = packSecretSource({
      declared: () => [{ pack: 'crm', names: ['CRM_TOKEN'] }],
      store: () => undefined,
      logger,
    });
    expect(await keyless(tenant)).toEqual({});
    expect(lines.join('')).toContain('no key');
  });
});
