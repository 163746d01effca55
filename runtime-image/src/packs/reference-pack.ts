// The reference pack (the records tools) as the runtime hosts it: shipped in the runtime image at
// /opt/bulkhead/packs/records/ with its manifest, enabled for every tenant, its approvals made in
// code: each tool's approved digest is that of the router's own definition in
// kernel/packs/records.ts, so the drift guard holds it exactly like an operator pack's tool.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BulkheadError } from '../../../kernel/errors/bulkhead-error.ts';
import type { EnabledPack } from '../../../kernel/packs/enabled-packs.ts';
import { PACK_MANIFEST_FILE, ReferencePackManifestSchema } from '../../../kernel/packs/pack-manifest.ts';
import { RECORDS_TOOLS } from '../../../kernel/packs/records.ts';
import { definitionDigest, wireTool } from '../../../kernel/tools/tool-definition.ts';

export interface ReferencePack {
  pack: EnabledPack;
  /** Its files in the image. */
  packDir: string;
}

/**
 * The reference pack's enabled entry from its manifest. A manifest whose statements differ from
 * the router's definitions (a tool more or less, another effect or scope) is refused: the router
 * authorizes records calls by its own definitions, so the two must say the same.
 */
export function readReferencePack(packDir: string, options: { idempotencyWindowMs: number }): ReferencePack {
  const file = join(packDir, PACK_MANIFEST_FILE);
  const manifest = ReferencePackManifestSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  const stated = Object.keys(manifest.tools).sort();
  const defined = RECORDS_TOOLS.map((def) => def.name).sort();
  const differs = RECORDS_TOOLS.some((def) => {
    const statement = manifest.tools[def.name];
    return (
      statement?.effect !== def.effect ||
      statement.scopes.join() !== (def.scope ?? '') ||
      statement.blastRadius !== def.blastRadius
    );
  });
  if (differs || stated.join() !== defined.join())
    throw new BulkheadError('invalid_input', `${file} does not state the router's records tools`);
  return {
    packDir,
    pack: {
      name: manifest.name,
      version: manifest.version,
      command: [...manifest.command, `--idempotency-window-ms=${options.idempotencyWindowMs}`],
      secrets: [],
      idempotency: manifest.idempotency,
      tools: RECORDS_TOOLS.map((def) => ({
        name: def.name,
        // Already "records_<tool>", the naming rule's form; the router's names, served unchanged.
        exposed: def.name,
        effect: def.effect,
        digest: definitionDigest(wireTool(def)),
      })),
    },
  };
}
