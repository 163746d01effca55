// `bulkhead pack build|approve|list|history`: tool packs from a directory to an approval. The work
// is in tenants/control-plane/packs.ts; this file parses and prints.
import { parsePackPin, type PackPin } from '../../kernel/packs/pack-manifest.ts';
import type { PackReview } from '../control-plane/packs.ts';
import { approvePack, buildPack, reviewPack } from '../control-plane/packs.ts';
import { withContext } from './cli-context.ts';
import { confirm, parse, progress, UsageError, type Command } from './command-kit.ts';

export function packPinOption(text: string): PackPin {
  const pin = parsePackPin(text);
  if (!pin.version) throw new UsageError(`"${text}": name a pack version as NAME@VERSION`);
  return pin;
}

function printReview({ approval, problems }: PackReview): void {
  console.log(`Pack ${approval.name}@${approval.version} (image ${approval.image.id.slice(7, 19)})`);
  console.log(
    `  command: ${JSON.stringify(approval.manifest.command)}; idempotency: ${approval.idempotency}`,
  );
  console.log(`  secrets: ${approval.manifest.secrets.join(', ') || 'none'}`);
  for (const tool of approval.tools) {
    const def = tool.definition;
    console.log(
      `  tool ${tool.exposed} (listed as ${tool.name}): ${tool.effect}, scope ${tool.scope ?? 'none'}`,
    );
    if (def.description) console.log(`    ${def.description}`);
    if (tool.blastRadius) console.log(`    blast radius: ${tool.blastRadius}`);
    console.log(`    annotations: ${JSON.stringify(def.annotations ?? {})}`);
    console.log(`    input: ${JSON.stringify(def.inputSchema)}`);
    console.log(`    digest: ${tool.digest}`);
  }
  for (const r of approval.resources) console.log(`  resource ${String(r.uri)} (${String(r.name)})`);
  for (const r of approval.resourceTemplates) console.log(`  resource template ${String(r.uriTemplate)}`);
  for (const p of approval.prompts) console.log(`  prompt ${String(p.name)}`);
  for (const problem of problems) console.log(`  PROBLEM: ${problem}`);
}

const build: Command = {
  summary: "build a pack's image offline from its directory (bulkhead-pack.json at its root)",
  usage:
    'bulkhead pack build <dir> [--installed]  (--installed: you ran "npm ci --omit=dev --ignore-scripts" there; checked against the lockfile, not run here)',
  async run(args) {
    const { values, positionals } = parse(args, { installed: { type: 'boolean', default: false } });
    const [dir] = positionals;
    if (!dir || positionals.length > 1) throw new UsageError('pack build takes exactly one directory');
    const built = await withContext((ctx) => buildPack(ctx, dir, progress, { installed: values.installed }));
    for (const line of built.log) console.log(`    ${line}`);
    console.log(`Built ${built.image.ref} (${built.image.id.slice(7, 19)}) on ${built.base}`);
    console.log(`Next: bulkhead pack approve ${built.manifest.name}@${built.manifest.version}`);
  },
};

const approve: Command = {
  summary: 'start a built pack once in the sandbox, show what it lists, and approve it',
  usage: 'bulkhead pack approve <name>@<version> [--yes]',
  async run(args) {
    const { values, positionals } = parse(args, { yes: { type: 'boolean', default: false } });
    const [text] = positionals;
    if (!text || positionals.length > 1) throw new UsageError('pack approve takes exactly one NAME@VERSION');
    const pin = packPinOption(text);
    await withContext(async (ctx) => {
      progress(`starting ${pin.name}@${pin.version} in the sandbox (no network, no secrets)`);
      const review = await reviewPack(ctx, pin);
      printReview(review);
      if (review.problems.length === 0)
        await confirm({
          yes: values.yes,
          id: `${pin.name}@${pin.version}`,
          what: 'approving serves these tools to tenants that enable this version',
        });
      const approval = await approvePack(ctx, review);
      console.log(
        `Approved ${approval.name}@${approval.version} by ${approval.approvedBy} at ${approval.approvedAt}`,
      );
    });
  },
};

const list: Command = {
  summary: 'list approved pack versions',
  usage: 'bulkhead pack list',
  async run(args) {
    parse(args, {});
    const approvals = await withContext((ctx) => ctx.packRegistry.list());
    if (approvals.length === 0) console.log('no approved packs');
    for (const a of approvals)
      console.log(
        `${`${a.name}@${a.version}`.padEnd(28)} tools=${a.tools.map((t) => t.exposed).join(',')} approved by ${a.approvedBy} at ${a.approvedAt}`,
      );
  },
};

const history: Command = {
  summary: 'every approval made (of one pack, when named)',
  usage: 'bulkhead pack history [name]',
  async run(args) {
    const { positionals } = parse(args, {});
    const entries = await withContext((ctx) => ctx.packRegistry.history(positionals[0]));
    for (const e of entries)
      console.log(
        `${e.approvedAt} ${e.name}@${e.version} by ${e.approvedBy} image ${e.image.slice(7, 19)} tools ${e.tools.map((t) => `${t.exposed}:${t.digest.slice(0, 12)}`).join(' ')}`,
      );
  },
};

const SUBCOMMANDS: Record<string, Command> = { build, approve, list, history };

export const pack: Command = {
  subcommands: SUBCOMMANDS,
  summary: 'tool packs: build, approve, list, history',
  usage: `bulkhead pack ${Object.keys(SUBCOMMANDS).join('|')} …  (bulkhead pack <sub> --help)`,
  async run(args) {
    const [sub, ...rest] = args;
    const command = sub ? SUBCOMMANDS[sub] : undefined;
    if (!command) throw new UsageError(`pack needs one of: ${Object.keys(SUBCOMMANDS).join(', ')}`);
    await command.run(rest);
  },
};
