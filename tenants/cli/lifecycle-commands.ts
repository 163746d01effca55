// Operator commands on one existing tenant: show, update, suspend, resume, history, verify, secret.
import { stringify } from 'yaml';
import { configOf } from '../../kernel/tenant/tenant-config.ts';
import {
  IsolationTierSchema,
  PLAN_QUOTAS,
  PLANS,
  planByName,
  type PlanName,
} from '../../kernel/tenant/tenant-spec.ts';
import { formatChanges } from '../../kernel/registry/config-diff.ts';
import type { TenantChanges } from '../../kernel/registry/tenant-registry.ts';
import { openContext, UsageError } from './cli-context.ts';
import { oneId, parse, progress, type Command } from './command-kit.ts';
import { setStatus } from '../control-plane/offboard.ts';
import { claimMapping, formatReport } from './report-format.ts';
import { TOOL_VERSIONS } from '../control-plane/tool-versions.ts';
import { crossTenantProbe, routerCaller } from '../control-plane/router-probe.ts';

export const show: Command = {
  summary: 'show a tenant: its record (YAML), runtime state and generation',
  usage: 'bulkhead show <tenant-id> [--json]',
  async run(args) {
    const { values, positionals } = parse(args, { json: { type: 'boolean', default: false } });
    const id = oneId(positionals, 'show');
    const ctx = await openContext();
    try {
      const tenant = await ctx.registry.require(id);
      const runtime = await ctx.runtimes.inspect(id);
      const secrets = await ctx.secrets.names(id);
      if (values.json) {
        console.log(JSON.stringify({ tenant, runtime, storedSecrets: secrets }, null, 2));
        return;
      }
      console.log(
        `# tenant ${tenant.id}: uid ${tenant.uid}, generation ${tenant.generation}, created ${tenant.createdAt}`,
      );
      console.log(
        `# runtime: ${runtime ? `${runtime.state} (${runtime.runtimeId.slice(0, 12)})` : 'absent'}`,
      );
      console.log(`# claim mapping: ${claimMapping(tenant)}`);
      console.log(`# stored secret values: ${secrets.join(', ') || 'none'}`);
      process.stdout.write(stringify(configOf(tenant)));
    } finally {
      await ctx.close();
    }
  },
};

export const update: Command = {
  summary: 'change a tenant (a new generation; refused if someone else changed it first)',
  usage:
    'bulkhead update <tenant-id> [--plan NAME] [--isolation runc|gvisor] [--name "…"] [--issuer URL]... [--tools a,b,…] [--if-generation N]',
  async run(args) {
    const { values, positionals } = parse(args, {
      plan: { type: 'string' },
      isolation: { type: 'string' },
      name: { type: 'string' },
      issuer: { type: 'string', multiple: true },
      tools: { type: 'string' },
      'if-generation': { type: 'string' },
    });
    const id = oneId(positionals, 'update');
    const changes: TenantChanges = {};
    if (values.plan) {
      if (!Object.hasOwn(PLANS, values.plan))
        throw new UsageError(`unknown plan "${values.plan}": choose one of ${Object.keys(PLANS).join(', ')}`);
      changes.plan = planByName(values.plan);
      changes.quotas = PLAN_QUOTAS[values.plan as PlanName];
    }
    if (values.isolation) {
      const tier = IsolationTierSchema.safeParse(values.isolation);
      if (!tier.success) throw new UsageError(`unknown isolation "${values.isolation}": use runc or gvisor`);
      changes.isolation = tier.data;
    }
    if (values.name) changes.displayName = values.name;
    if (values.issuer)
      changes.issuers = values.issuer.map((issuer) => ({
        issuer,
        tenantClaim: 'tenant',
        rolesClaim: 'roles',
      }));
    const ctx = await openContext();
    try {
      const current = await ctx.registry.require(id);
      if (values.tools !== undefined) {
        changes.tools = values.tools
          .split(',')
          .map((name) => name.trim())
          .filter(Boolean)
          .map((name) => ({ name, version: TOOL_VERSIONS.get(name) ?? '0.0.0-unknown', agentsAlone: true }));
      }
      if (Object.keys(changes).length === 0) throw new UsageError('nothing to change');
      const expected = values['if-generation'] ? Number(values['if-generation']) : current.generation;
      if (!Number.isInteger(expected)) throw new UsageError('--if-generation takes a number');
      const next = await ctx.registry.update(id, {
        expectedGeneration: expected,
        changes,
        author: { actor: ctx.actor, reason: 'update' },
      });
      const [entry] = (await ctx.registry.history(id)).slice(-1);
      console.log(`Updated ${id}: generation ${current.generation} -> ${next.generation}`);
      for (const line of formatChanges(entry?.changes ?? [])) console.log(line);
      if (next.status === 'active' && (changes.plan || changes.isolation)) {
        progress('recycling the runtime onto the new settings');
        await ctx.runtimes.ensure(id);
      }
    } finally {
      await ctx.close();
    }
  },
};

function statusCommand(status: 'suspended' | 'active', name: string, summary: string): Command {
  return {
    summary,
    usage: `bulkhead ${name} <tenant-id>`,
    async run(args) {
      const { positionals } = parse(args, {});
      const id = oneId(positionals, name);
      const ctx = await openContext();
      try {
        const tenant = await setStatus(ctx, id, status, progress);
        console.log(`Tenant ${id} is ${tenant.status} (generation ${tenant.generation}); its data is kept`);
      } finally {
        await ctx.close();
      }
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
    const ctx = await openContext();
    try {
      const entries = await ctx.registry.history(positionals[0]);
      if (entries.length === 0) console.log('no changes recorded');
      for (const e of entries) {
        console.log(
          `${e.at} ${e.tenant} ${e.action} generation=${e.generation} by ${e.actor}${e.reason ? ` (${e.reason})` : ''}`,
        );
        for (const line of formatChanges(e.changes)) console.log(line);
      }
    } finally {
      await ctx.close();
    }
  },
};

/** Where `verify --router` gets agents' access tokens: the development IdP, supplied by dev/cli. */
export type RouterProbeSource = (
  devDir: string,
) => Promise<{ resourceUrl: string; agentToken(tenant: string): Promise<string> }>;

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
      const ctx = await openContext();
      try {
        await ctx.registry.require(id);
        const report = await ctx.runtimes.verify(id);
        if (values.router) {
          // Needs agents' tokens: the development stack's IdP (bulkhead up) mints them.
          if (!options.routerProbe)
            throw new UsageError(
              'verify --router needs agent tokens from the development IdP: run it as node dev/cli/main.ts verify',
            );
          const probe = await options.routerProbe(ctx.devDir);
          const others = (await ctx.registry.list()).filter((t) => t.id !== id && t.status === 'active');
          const intruder = values.intruder ?? others[0]?.id;
          if (!intruder) throw new UsageError('verify --router needs a second active tenant to attack from');
          console.error(
            `verify --router writes one canary record into "${id}" (as its agent) for "${intruder}" to attack`,
          );
          report.checks.push(
            await crossTenantProbe({
              target: id,
              intruder,
              connect: async (tenant) => routerCaller(probe.resourceUrl, await probe.agentToken(tenant)),
            }),
          );
          report.pass = report.checks.every((c) => c.pass);
        }
        console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
        if (!report.pass) process.exitCode = 1;
      } finally {
        await ctx.close();
      }
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
    if (!/^[A-Z][A-Z0-9_]{0,63}$/.test(name))
      throw new UsageError('a secret NAME is A-Z, 0-9 and _, starting with a letter');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const value = Buffer.concat(chunks).toString('utf8').replace(/\n$/, '');
    if (!value) throw new UsageError('no secret value on stdin');
    const ctx = await openContext();
    try {
      const tenant = await ctx.registry.require(id);
      const ref = await ctx.secrets.put(id, name, value);
      const secrets = [...tenant.secrets.filter((s) => s.name !== name), { name, ref }];
      await ctx.registry.update(id, {
        expectedGeneration: tenant.generation,
        changes: { secrets },
        author: { actor: ctx.actor, reason: `secret ${name} set` },
      });
      console.log(`Stored ${name} for ${id} as ${ref}`);
    } finally {
      await ctx.close();
    }
  },
};
