// The operator commands: onboard, list, offboard, keygen.
import { join, resolve } from 'node:path';
import { atPath } from '../../kernel/errors/path-refusal.ts';
import { summarize } from '../../supervisor/client/isolation-report.ts';
import { PLANS } from '../../kernel/tenant/tenant-spec.ts';
import { ensureCallKeys } from '../control-plane/call-keys.ts';
import { offboardTenant } from '../control-plane/offboard.ts';
import { onboardTenant } from '../control-plane/onboard.ts';
import { listTenants, requireTenant } from '../control-plane/queries.ts';
import { withContext } from './cli-context.ts';
import {
  confirm,
  isolationOption,
  issuerOption,
  oneId,
  parse,
  planOption,
  progress,
  UsageError,
  type Command,
} from './command-kit.ts';
import { claimMapping } from './report-format.ts';

export type { Command } from './command-kit.ts';

export const onboard: Command = {
  summary: 'register a tenant and start its hardened runtime (idempotent, all or nothing)',
  usage: `bulkhead onboard <tenant-id> [--plan ${Object.keys(PLANS).join('|')}] [--isolation runc|gvisor] [--issuer URL]... [--name "Display name"] [--no-verify]`,
  async run(args) {
    const { values, positionals } = parse(args, {
      plan: { type: 'string', default: 'small' },
      isolation: { type: 'string', default: 'runc' },
      issuer: { type: 'string', multiple: true, default: [] },
      name: { type: 'string' },
      'no-verify': { type: 'boolean', default: false },
    });
    const id = oneId(positionals, 'onboard');
    const plan = planOption(values.plan);
    const isolation = isolationOption(values.isolation);
    const issuers = values.issuer.map(issuerOption);
    await withContext(async (ctx) => {
      console.log(`Onboarding ${id}`);
      const result = await onboardTenant(
        ctx,
        {
          id,
          plan,
          isolation,
          issuers,
          actor: ctx.actor,
          verify: !values['no-verify'],
          ...(values.name ? { displayName: values.name } : {}),
        },
        progress,
      );
      const { tenant } = result;
      console.log(
        `Tenant ${tenant.id} is ${result.created ? 'ready' : 'already onboarded and running'} in ${result.ms} ms`,
      );
      console.log(
        `  uid ${tenant.uid}, plan ${tenant.plan.name}, isolation ${tenant.isolation}, generation ${tenant.generation}`,
      );
      console.log(
        `  runtime ${result.runtime?.runtimeId.slice(0, 12) ?? '?'} (${result.runtime?.state ?? '?'})`,
      );
      console.log(`  endpoint ${JSON.stringify(result.endpoint)}`);
      console.log(`  claim mapping: ${claimMapping(tenant)}`);
      if (result.evidence) {
        console.log(`  ${summarize(result.evidence)} (details: bulkhead verify ${tenant.id})`);
        if (!result.evidence.pass) process.exitCode = 1;
      }
    });
  },
};

export const list: Command = {
  summary: 'list tenants and the state of their runtimes',
  usage: 'bulkhead list',
  async run(args) {
    parse(args, {}, { positionals: false });
    const views = await withContext((ctx) => listTenants(ctx));
    if (views.length === 0) console.log('no tenants');
    for (const { tenant, runtime } of views) {
      console.log(
        `${tenant.id.padEnd(24)} ${tenant.status.padEnd(10)} uid=${tenant.uid} plan=${tenant.plan.name} ` +
          `isolation=${tenant.isolation} runtime=${runtime ? runtime.state : 'absent'} generation=${tenant.generation}`,
      );
    }
  },
};

export const offboard: Command = {
  summary: 'drain and remove a tenant: export its audit trail, destroy container, volume, secrets and record',
  usage: 'bulkhead offboard <tenant-id> [--yes] [--audit-dir DIR]',
  async run(args) {
    const { values, positionals } = parse(args, {
      yes: { type: 'boolean', default: false },
      'audit-dir': { type: 'string' },
    });
    const id = oneId(positionals, 'offboard');
    await withContext(async (ctx) => {
      await requireTenant(ctx, id);
      await confirm({ yes: values.yes, id, what: `offboarding destroys the data of "${id}"` });
      const auditDir = resolve(values['audit-dir'] ?? join(ctx.devDir, 'offboarded'));
      console.log(`Offboarding ${id}`);
      const receipt = await offboardTenant(ctx, id, { auditDir }, progress);
      console.log(`Receipt (${receipt.at}): tenant ${receipt.tenant}, uid ${receipt.uid}`);
      console.log(`Destroyed for ${id}: ${receipt.destroyed.join(', ')}`);
      console.log(`Checked on the engine after the purge: ${receipt.checked}`);
      if (receipt.audit)
        console.log(
          `Audit trail exported: ${receipt.audit.file} (${receipt.audit.check.entries} entries, chain ${receipt.audit.check.ok ? 'intact' : 'BROKEN'}, head ${receipt.audit.check.head.slice(0, 16)}), check ${receipt.audit.checkFile}`,
        );
    });
  },
};

export const keygen: Command = {
  summary: "create the router's call-assertion key pair and the egress gateway's (Ed25519) if missing",
  usage: 'bulkhead keygen --out <dir>',
  async run(args) {
    const { values } = parse(args, { out: { type: 'string' } }, { positionals: false });
    const out = values.out;
    if (!out) throw new UsageError('keygen needs --out <dir>');
    const keys = await atPath({ option: '--out', path: out, verb: 'write' }, () => ensureCallKeys(out));
    console.log(
      `${keys.created ? 'created missing' : 'kept existing'} keys: ${keys.privateKeyFile}, ${keys.publicKeyFile}, ` +
        `${keys.egress.privateKeyFile}, ${keys.egress.publicKeyFile}`,
    );
  },
};
