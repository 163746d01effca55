// `bulkhead pack build|approve|list|history`: tool packs from a directory to an approval. The work
// is in tenants/control-plane/packs.ts; this file parses and prints.
import { resolve } from 'node:path';
import { ZodError } from 'zod';
import type { PackApproval } from '../../kernel/packs/pack-approval.ts';
import { parsePackPin, type PackPin } from '../../kernel/packs/pack-manifest.ts';
import { definitionDigest } from '../../kernel/tools/tool-definition.ts';
import type { PackReview } from '../control-plane/packs.ts';
import { approvePack, buildPack, readPackManifest, reviewPack } from '../control-plane/packs.ts';
import { withContext } from './cli-context.ts';
import { confirm, parse, progress, runSubcommand, UsageError, type Command } from './command-kit.ts';
import { terminalText } from './terminal-text.ts';

/** `NAME@VERSION`, or a usage error that says which part is wrong and what it may hold. */
export function packPinOption(text: string): PackPin {
  if (!/@./.test(text)) throw new UsageError(`"${text}": name a pack version as NAME@VERSION`);
  try {
    return parsePackPin(text);
  } catch (error) {
    if (!(error instanceof ZodError)) throw error;
    throw new UsageError(`"${text}": ${error.issues.map((issue) => issue.message).join('; ')}`);
  }
}

/**
 * What the operator approves, every field of it: a definition is served to clients as the pack
 * presented it (its title, output schema and any other field too), so none is left off the screen,
 * and what the pack wrote is printed through terminalText.
 */
export function printReview({ approval, problems }: PackReview): void {
  const line = (text: string) => console.log(terminalText(text));
  line(`Pack ${approval.name}@${approval.version} (image ${approval.image.id.slice(7, 19)})`);
  line(`  command: ${JSON.stringify(approval.manifest.command)}; idempotency: ${approval.idempotency}`);
  line(`  secrets: ${approval.manifest.secrets.join(', ') || 'none'}`);
  for (const tool of approval.tools) {
    const {
      name: _name,
      title,
      description,
      annotations,
      inputSchema,
      outputSchema,
      ...other
    } = tool.definition;
    line(`  tool ${tool.exposed} (listed as ${tool.name}): ${tool.effect}, scope ${tool.scope ?? 'none'}`);
    if (title !== undefined) line(`    title: ${title}`);
    if (description) line(`    ${description}`);
    if (tool.blastRadius) line(`    blast radius: ${tool.blastRadius}`);
    line(`    annotations: ${JSON.stringify(annotations ?? {})}`);
    line(`    input: ${JSON.stringify(inputSchema)}`);
    if (outputSchema) line(`    output: ${JSON.stringify(outputSchema)}`);
    if (Object.keys(other).length > 0) line(`    other fields: ${JSON.stringify(other)}`);
    line(`    digest: ${tool.digest}`);
  }
  for (const r of approval.resources) line(`  resource ${String(r.uri)} (${String(r.name)})`);
  for (const r of approval.resourceTemplates) line(`  resource template ${String(r.uriTemplate)}`);
  for (const p of approval.prompts) line(`  prompt ${String(p.name)}`);
  for (const problem of problems) line(`  PROBLEM: ${problem}`);
}

/**
 * An approval made before the digest covered every field (kernel/tools/tool-definition.ts): its
 * pins hold the name, description, schemas and annotations only, until it is approved again.
 */
export function pinsFewerFields(approval: Pick<PackApproval, 'tools'>): boolean {
  return approval.tools.some((tool) => tool.digest !== definitionDigest(tool.definition));
}

const build: Command = {
  summary: "build a pack's image offline from its directory (bulkhead-pack.json at its root)",
  usage:
    'bulkhead pack build <dir> [--installed]  (--installed: you ran "npm ci --omit=dev --ignore-scripts" there; checked against the lockfile, not run here)',
  async run(args) {
    const { values, positionals } = parse(args, { installed: { type: 'boolean', default: false } });
    const [dir] = positionals;
    if (!dir || positionals.length > 1) throw new UsageError('pack build takes exactly one directory');
    // Before connecting: a directory that is none, or holds no valid manifest, needs no Redis to refuse.
    const manifest = await readPackManifest(resolve(dir));
    const built = await withContext((ctx) =>
      buildPack(ctx, dir, progress, { installed: values.installed, manifest }),
    );
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
    parse(args, {}, { positionals: false });
    const approvals = await withContext((ctx) => ctx.packRegistry.list());
    if (approvals.length === 0) console.log('no approved packs');
    for (const a of approvals) {
      const older = pinsFewerFields(a);
      console.log(
        `${`${a.name}@${a.version}`.padEnd(28)} tools=${a.tools.map((t) => t.exposed).join(',')} approved by ${a.approvedBy} at ${a.approvedAt}${older ? ' (pins name, description, schemas and annotations only: approve again to pin every field)' : ''}`,
      );
    }
  },
};

const history: Command = {
  summary: 'every approval made (of one pack, when named)',
  usage: 'bulkhead pack history [name]',
  async run(args) {
    const { positionals } = parse(args, {});
    if (positionals.length > 1) throw new UsageError('pack history takes at most one pack name');
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
  run: runSubcommand('pack', SUBCOMMANDS),
};
