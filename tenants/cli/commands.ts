// The operator commands: onboard, list, offboard, keygen.
import { parseArgs } from 'node:util';
import { IsolationTierSchema, PLANS } from '../contracts/tenant-spec.ts';
import { ensureCallKeys } from './call-keys.ts';
import { openContext, UsageError } from './cli-context.ts';
import { offboardTenant, onboardTenant } from './onboarding.ts';

export interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<void>;
}

const progress = (message: string): void => console.log(`  … ${message}`);

function parse<
  T extends Record<string, { type: 'string' | 'boolean'; short?: string; default?: string | boolean }>,
>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export const onboard: Command = {
  summary: 'register a tenant and start its hardened runtime',
  usage: `bulkhead onboard <tenant-id> [--plan ${Object.keys(PLANS).join('|')}] [--isolation runc|gvisor] [--name "Display name"]`,
  async run(args) {
    const { values, positionals } = parse(args, {
      plan: { type: 'string', default: 'small' },
      isolation: { type: 'string', default: 'runc' },
      name: { type: 'string' },
    });
    const [id] = positionals;
    if (!id || positionals.length > 1) throw new UsageError('onboard takes exactly one tenant id');
    const isolation = IsolationTierSchema.safeParse(values.isolation);
    if (!isolation.success)
      throw new UsageError(`unknown isolation "${values.isolation}": use runc or gvisor`);
    const ctx = await openContext();
    try {
      console.log(`Onboarding ${id}`);
      const result = await onboardTenant(
        ctx,
        {
          id,
          plan: values.plan,
          isolation: isolation.data,
          ...(values.name ? { displayName: values.name } : {}),
        },
        progress,
      );
      console.log(`Tenant ${result.tenant.id} is ready in ${result.ms} ms`);
      console.log(
        `  uid ${result.tenant.uid}, plan ${result.tenant.plan.name}, isolation ${result.tenant.isolation}`,
      );
      console.log(
        `  runtime ${result.runtime?.runtimeId.slice(0, 12) ?? '?'} (${result.runtime?.state ?? '?'})`,
      );
      console.log(`  endpoint ${JSON.stringify(result.endpoint)}`);
      console.log(`  tokens for this tenant carry the claim tenant="${result.tenant.id}"`);
    } finally {
      await ctx.close();
    }
  },
};

export const list: Command = {
  summary: 'list tenants and the state of their runtimes',
  usage: 'bulkhead list',
  async run(args) {
    parse(args, {});
    const ctx = await openContext();
    try {
      const tenants = await ctx.registry.list();
      if (tenants.length === 0) console.log('no tenants');
      for (const tenant of tenants) {
        const runtime = await ctx.runtimes.inspect(tenant.id);
        console.log(
          `${tenant.id.padEnd(24)} ${tenant.status.padEnd(10)} uid=${tenant.uid} plan=${tenant.plan.name} ` +
            `isolation=${tenant.isolation} runtime=${runtime ? runtime.state : 'absent'}`,
        );
      }
    } finally {
      await ctx.close();
    }
  },
};

export const offboard: Command = {
  summary: 'remove a tenant: its container, data volume, socket directory and record',
  usage: 'bulkhead offboard <tenant-id> --yes',
  async run(args) {
    const { values, positionals } = parse(args, { yes: { type: 'boolean', default: false } });
    const [id] = positionals;
    if (!id || positionals.length > 1) throw new UsageError('offboard takes exactly one tenant id');
    if (!values.yes) throw new UsageError(`offboarding destroys the data of "${id}": confirm with --yes`);
    const ctx = await openContext();
    try {
      console.log(`Offboarding ${id}`);
      const receipt = await offboardTenant(ctx, id, progress);
      console.log(`Destroyed for ${id}: ${receipt.removed.join(', ')}`);
    } finally {
      await ctx.close();
    }
  },
};

export const keygen: Command = {
  summary: "create the router's call-assertion key pair (Ed25519) if missing",
  usage: 'bulkhead keygen --out <dir>',
  async run(args) {
    const { values } = parse(args, { out: { type: 'string' } });
    if (!values.out) throw new UsageError('keygen needs --out <dir>');
    const keys = await ensureCallKeys(values.out);
    console.log(
      `${keys.created ? 'created' : 'kept existing'} ${keys.privateKeyFile} and ${keys.publicKeyFile}`,
    );
  },
};
