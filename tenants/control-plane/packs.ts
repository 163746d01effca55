// Tool packs from the operator's directory to an approval: `buildPack` validates the manifest,
// installs or checks npm dependencies on this host (pack-dependencies.ts) and has the supervisor
// build the image; `reviewPack` starts the built pack once in the supervisor's sandbox and checks
// what it lists against the manifest's statements; `approvePack` stores what the operator saw.
import { opendir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { issueLines, OPERATOR_INPUT } from '../../kernel/errors/input-issues.ts';
import { atPath } from '../../kernel/errors/path-refusal.ts';
import {
  packToolDefinition,
  PresentedDefinitionSchema,
  type ApprovedTool,
  type PackApproval,
} from '../../kernel/packs/pack-approval.ts';
import {
  PACK_MANIFEST_FILE,
  packImage,
  PackManifestSchema,
  PackToolNameSchema,
  type PackManifest,
  type PackPin,
  packRejected,
} from '../../kernel/packs/pack-manifest.ts';
import { exposedName, exposedNames } from '../../kernel/packs/pack-naming.ts';
import { definitionDigest } from '../../kernel/tools/tool-definition.ts';
import type { ControlPlane, Progress } from './context.ts';
import { checkInstalledDependencies, installNpmDependencies } from './pack-dependencies.ts';

/**
 * Reads and validates bulkhead-pack.json; every problem named with its path. A directory the
 * operator named that is none (missing, a file, not readable), or a manifest that is not there or
 * cannot be read, is refused as bad input, naming the path and why (exit 2); a manifest that is not
 * JSON or breaks the schema is the pack refused (pack_rejected, exit 1).
 */
export async function readPackManifest(dir: string): Promise<PackManifest> {
  await atPath({ path: dir, verb: 'read' }, async () => (await opendir(dir)).close());
  const file = join(dir, PACK_MANIFEST_FILE);
  const text = await atPath({ path: file, verb: 'read' }, () => readFile(file, 'utf8'));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw packRejected(`${PACK_MANIFEST_FILE}: not JSON: ${(error as Error).message}`);
  }
  const parsed = PackManifestSchema.safeParse(json, OPERATOR_INPUT);
  if (!parsed.success)
    throw packRejected(`${PACK_MANIFEST_FILE}:\n  ${issueLines(parsed.error).join('\n  ')}`);
  return parsed.data;
}

export interface BuiltPack {
  manifest: PackManifest;
  image: { ref: string; id: string };
  base: string;
  log: string[];
}

/**
 * `installed`: the directory's npm dependencies were installed by the operator (where npm and the
 * registry are); they are checked against the lockfile instead of installed here. `manifest`: the
 * directory's, read already (the CLI reads it before it connects to anything).
 */
export async function buildPack(
  cp: Pick<ControlPlane, 'packs'>,
  directory: string,
  progress: Progress,
  options: { installed?: boolean; manifest?: PackManifest } = {},
): Promise<BuiltPack> {
  const dir = resolve(directory);
  const manifest = options.manifest ?? (await readPackManifest(dir));
  progress(
    `manifest ${manifest.name}@${manifest.version}: ${Object.keys(manifest.tools).length} tool statement(s)`,
  );
  if (options.installed) await checkInstalledDependencies(dir, progress);
  else await installNpmDependencies(dir, progress);
  progress(`docker build --network none -> ${packImage(manifest)} (by the supervisor)`);
  const built = await cp.packs.build(dir);
  return {
    manifest: built.manifest,
    image: { ref: built.ref, id: built.id },
    base: built.base,
    log: built.log,
  };
}

/** What the operator reviews before approving; `problems` non-empty means it cannot be approved. */
export interface PackReview {
  approval: Omit<PackApproval, 'approvedBy' | 'approvedAt'>;
  problems: string[];
}

function reviewTools(
  manifest: PackManifest,
  listed: Record<string, unknown>[],
  problems: string[],
): ApprovedTool[] {
  const names = listed.map((tool) => String(tool.name));
  try {
    exposedNames(manifest.name, names);
  } catch (error) {
    problems.push((error as Error).message);
  }
  for (const stated of Object.keys(manifest.tools))
    if (!names.includes(stated))
      problems.push(`the manifest states "${stated}" but the pack does not list it`);
  return listed.flatMap((tool) => {
    const name = String(tool.name);
    // A name the manifest could not state gets that reason rather than "no statement".
    const named = PackToolNameSchema.safeParse(name);
    if (!named.success) {
      problems.push(`the pack lists "${name}": ${named.error.issues.map((i) => i.message).join('; ')}`);
      return [];
    }
    // Own statements only: "constructor" or "toString" would otherwise find Object's own members.
    const statement = Object.hasOwn(manifest.tools, name) ? manifest.tools[name] : undefined;
    if (!statement) {
      problems.push(
        `the pack lists "${name}" but the manifest has no statement for it (effect, scopes, blastRadius)`,
      );
      return [];
    }
    const presented = PresentedDefinitionSchema.safeParse({
      ...tool,
      name: exposedName(manifest.name, name),
    });
    if (!presented.success) {
      problems.push(`"${name}": not a valid tool definition: ${issueLines(presented.error).join('; ')}`);
      return [];
    }
    return [
      {
        name,
        exposed: presented.data.name,
        effect: statement.effect,
        scope: statement.scopes[0] ?? null,
        ...(statement.blastRadius ? { blastRadius: statement.blastRadius } : {}),
        definition: presented.data,
        digest: definitionDigest(presented.data),
      },
    ];
  });
}

/** Starts the built pack once in the sandbox and checks what it lists against the manifest. */
export async function reviewPack(cp: Pick<ControlPlane, 'packs'>, pin: PackPin): Promise<PackReview> {
  const listed = await cp.packs.list(packImage(pin));
  const { manifest, listing } = listed;
  const problems: string[] = [];
  if (manifest.name !== pin.name || manifest.version !== pin.version)
    problems.push(`the image holds ${manifest.name}@${manifest.version}, not ${pin.name}@${pin.version}`);
  const tools = reviewTools(manifest, listing.tools, problems);
  const approval = {
    name: manifest.name,
    version: manifest.version,
    image: listed.image,
    manifest,
    idempotency: manifest.idempotency,
    tools,
    resources: listing.resources,
    resourceTemplates: listing.resourceTemplates,
    prompts: listing.prompts.map((prompt) => ({
      ...prompt,
      name: exposedName(manifest.name, String(prompt.name)),
    })),
  };
  // The router validates arguments with the approved JSON Schema: one it cannot read is refused now.
  for (const tool of tools) {
    try {
      packToolDefinition({ ...approval, approvedBy: '', approvedAt: new Date().toISOString() }, tool);
    } catch (error) {
      problems.push(`"${tool.name}": its inputSchema cannot be enforced: ${(error as Error).message}`);
    }
  }
  return { approval, problems };
}

/** Stores a reviewed pack's approval (refused while the review has problems). */
export async function approvePack(
  cp: Pick<ControlPlane, 'packRegistry' | 'actor'>,
  review: PackReview,
): Promise<PackApproval> {
  if (review.problems.length > 0)
    throw packRejected(
      `${review.approval.name}@${review.approval.version} cannot be approved:\n- ${review.problems.join('\n- ')}`,
    );
  return cp.packRegistry.approve({
    ...review.approval,
    approvedBy: cp.actor,
    approvedAt: new Date().toISOString(),
  });
}
