// Operator commands on one existing tenant: show, update, suspend, resume, history, verify, secret.
import { packPinOption } from './pack-commands.ts';
import { stringify } from 'yaml';
import { configOf } from '../../kernel/tenant/tenant-config.ts';
import { formatChanges } from '../../kernel/registry/config-diff.ts';
import { describeTenant, tenantHistory } from '../control-plane/queries.ts';
import type { WithheldTool } from '../../kernel/registry/withheld-tools.ts';
import { isSecretName, SECRET_NAME_RULE, setSecret } from '../control-plane/secrets.ts';
import { setStatus } from '../control-plane/status.ts';
import { updateTenant, type UpdateRequest } from '../control-plane/update.ts';
import { verifyTenant, type RouterProbeSource } from '../control-plane/verify.ts';
import { withContext } from './cli-context.ts';
import {
  isolationOption,
  issuerOption,
  oneId,
  parse,
  planOption,
  progress,
  tenantIdOption,
  UsageError,
  type Command,
} from './command-kit.ts';
import { claimMapping, formatReport } from './report-format.ts';
import { QUOTA_FLAGS, QUOTA_USAGE, quotaChanges } from './quota-commands.ts';

export const show: Command = {
  summary: 'show a tenant: its record (YAML), runtime state and generation, the tools withheld for drift',
  usage: 'bulkhead show <tenant-id> [--json]',
  async run(args) {
    const { values, positionals } = parse(args, { json: { type: 'boolean', default: false } });
    const id = oneId(positionals, 'show');
    const { tenant, runtime, storedSecrets, withheld } = await withContext((ctx) => describeTenant(ctx, id));
    if (values.json) {
      console.log(JSON.stringify({ tenant, runtime, storedSecrets, withheld }, null, 2));
      return;
    }
    console.log(
      `# tenant ${tenant.id}: uid ${tenant.uid}, generation ${tenant.generation} (update --if-generation ${tenant.uid}:${tenant.generation}), created ${tenant.createdAt}`,
    );
    console.log(`# runtime: ${runtime ? `${runtime.state} (${runtime.runtimeId.slice(0, 12)})` : 'absent'}`);
    console.log(`# claim mapping: ${claimMapping(tenant)}`);
    console.log(`# stored secret values: ${storedSecrets.join(', ') || 'none'}`);
    console.log(`# withheld for drift: ${withheldText(withheld)}`);
    process.stdout.write(stringify(configOf(tenant)));
  },
};

/** The tools the routers' drift checks withhold, one clause each. */
function withheldText(withheld: readonly WithheldTool[]): string {
  if (withheld.length === 0) return 'none';
  return withheld
    .map(
      (w) =>
        `${w.tool} (${w.reason === 'missing' ? 'missing from the runtime' : 'definition changed'}, ` +
        `${w.routers} router${w.routers === 1 ? '' : 's'}, last found ${w.lastFound})`,
    )
    .join('; ');
}

export const update: Command = {
  summary: 'change a tenant (a new generation; refused if someone else changed it first)',
  usage: `bulkhead update <tenant-id> [--plan NAME] [--isolation runc|gvisor] [--name "…"] [--issuer URL]... [--tools a,b,…] [--pack NAME@VERSION]... [--remove-pack NAME]... ${QUOTA_USAGE} [--if-generation UID:GENERATION]`,
  async run(args) {
    const { values, positionals } = parse(args, {
      plan: { type: 'string' },
      isolation: { type: 'string' },
      name: { type: 'string' },
      issuer: { type: 'string', multiple: true },
      tools: { type: 'string' },
      pack: { type: 'string', multiple: true },
      'remove-pack': { type: 'string', multiple: true },
      ...QUOTA_FLAGS,
      'if-generation': { type: 'string' },
    });
    const id = oneId(positionals, 'update');
    const request: UpdateRequest = {};
    // An empty value is refused as any unknown one, not taken for "no change".
    if (values.plan !== undefined) request.plan = planOption(values.plan);
    if (values.isolation !== undefined) request.isolation = isolationOption(values.isolation);
    if (values.name) request.displayName = values.name;
    if (values.issuer) request.issuers = values.issuer.map(issuerOption);
    if (values.tools !== undefined)
      request.tools = values.tools
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean);
    if (values.pack) request.addPacks = values.pack.map(packPinOption);
    if (values['remove-pack']) request.removePacks = values['remove-pack'];
    const quotas = quotaChanges(values);
    if (quotas) request.quotas = quotas;
    if (Object.keys(request).length === 0) throw new UsageError('nothing to change');
    if (values['if-generation'] !== undefined)
      request.ifGeneration = ifGenerationOption(values['if-generation']);
    await withContext((ctx) =>
      updateTenant(ctx, id, request, {
        progress,
        updated({ tenant, previousGeneration, changes }) {
          console.log(
            `Updated ${id}: generation ${previousGeneration} -> ${tenant.generation} (next --if-generation ${tenant.uid}:${tenant.generation})`,
          );
          for (const line of formatChanges(changes)) console.log(line);
        },
      }),
    );
  },
};

/**
 * `--if-generation UID:GENERATION`, as `show` prints it. The UID names the tenant: a generation alone
 * would also match a tenant offboarded and onboarded again under the same id that has reached the
 * same generation, and the update would land on a tenant its author never read.
 */
export function ifGenerationOption(value: string): { uid: number; generation: number } {
  const match = /^(\d{1,15}):(\d{1,15})$/.exec(value);
  if (!match)
    throw new UsageError(
      `--if-generation takes UID:GENERATION as "bulkhead show <tenant-id>" prints them (e.g. 100004:3), not "${value}": ` +
        'a generation alone would also match a tenant offboarded and onboarded again under the same id',
    );
  return { uid: Number(match[1]), generation: Number(match[2]) };
}

function statusCommand(status: 'suspended' | 'active', name: string, summary: string): Command {
  return {
    summary,
    usage: `bulkhead ${name} <tenant-id>`,
    async run(args) {
      const { positionals } = parse(args, {});
      const id = oneId(positionals, name);
      const tenant = await withContext((ctx) => setStatus(ctx, id, status, progress));
      console.log(`Tenant ${id} is ${tenant.status} (generation ${tenant.generation}); its data is kept`);
    },
  };
}

export const suspend = statusCommand(
  'suspended',
  'suspend',
  "refuse a tenant's calls (authorization error) and stop its container; its data is kept",
);
export const resume = statusCommand(
  'active',
  'resume',
  "accept a suspended tenant's calls again and start its runtime",
);

export const history: Command = {
  summary: "a tenant's change log: every generation, who made it and what changed",
  usage: 'bulkhead history [<tenant-id>]',
  async run(args) {
    const { positionals } = parse(args, {});
    if (positionals.length > 1) throw new UsageError('history takes at most one tenant id');
    const id = positionals[0] === undefined ? undefined : tenantIdOption(positionals[0]);
    const entries = await withContext((ctx) => tenantHistory(ctx, id));
    if (entries.length === 0) console.log('no changes recorded');
    for (const e of entries) {
      console.log(
        `${e.at} ${e.tenant} ${e.action} generation=${e.generation} by ${e.actor}${e.reason ? ` (${e.reason})` : ''}`,
      );
      for (const line of formatChanges(e.changes)) console.log(line);
    }
  },
};

export function verifyCommand(options: { routerProbe?: RouterProbeSource } = {}): Command {
  return {
    summary:
      "isolation evidence: the live container checked against each control, and probes from inside; --router also writes one canary record into the tenant and has another tenant's agent try to read it through the router",
    usage: 'bulkhead verify <tenant-id> [--json] [--router [--intruder <tenant-id>]]',
    async run(args) {
      const { values, positionals } = parse(args, {
        json: { type: 'boolean', default: false },
        router: { type: 'boolean', default: false },
        intruder: { type: 'string' },
      });
      const id = oneId(positionals, 'verify');
      const intruder =
        values.intruder === undefined ? undefined : tenantIdOption(values.intruder, '--intruder');
      if (intruder !== undefined && !values.router)
        throw new UsageError(
          '--intruder names the tenant whose agent attacks in verify --router: add --router',
        );
      const { routerProbe } = options;
      // Needs agents' tokens: the development stack's IdP (bulkhead up) mints them.
      if (values.router && !routerProbe)
        throw new UsageError(
          'verify --router needs agent tokens from the development IdP: run it as node dev/cli/main.ts verify',
        );
      const report = await withContext((ctx) =>
        verifyTenant(ctx, id, {
          ...(values.router && routerProbe
            ? {
                router: {
                  probe: () => routerProbe(ctx.devDir),
                  ...(intruder ? { intruder } : {}),
                  seeding: (target, intruder) =>
                    console.error(
                      `verify --router writes one canary record into "${target}" (as its agent) for "${intruder}" to attack`,
                    ),
                },
              }
            : {}),
        }),
      );
      console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
      if (!report.pass) process.exitCode = 1;
    },
  };
}

export const secret: Command = {
  summary:
    'store a downstream credential for a tenant (value read from stdin, encrypted at rest; the registry keeps only the reference)',
  usage: 'bulkhead secret <tenant-id> <NAME>   (value on stdin)',
  async run(args) {
    const { positionals } = parse(args, {});
    const [id, name] = positionals;
    if (!id || !name || positionals.length !== 2) throw new UsageError('secret takes a tenant id and a NAME');
    const tenant = tenantIdOption(id);
    if (!isSecretName(name)) throw new UsageError(SECRET_NAME_RULE);
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const value = Buffer.concat(chunks).toString('utf8').replace(/\n$/, '');
    if (!value) throw new UsageError('no secret value on stdin');
    const ref = await withContext((ctx) => setSecret(ctx, tenant, name, value));
    console.log(`Stored ${name} for ${id} as ${ref}`);
  },
};
