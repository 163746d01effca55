// The job contract for tool pack images (the supervisor holds the Docker socket, so the CLI asks it):
// build a pack's image from a directory on this host, and list what a built pack presents in the
// approval sandbox. A refusal (a bad manifest, a failed build, a pack that does not speak MCP) is
// an answer with code `pack_rejected`, like the runtime jobs' refusals.
import { z } from 'zod';
import { PackManifestSchema } from '../../kernel/packs/pack-manifest.ts';

export const PACK_QUEUE = 'packs';

const JsonObject = z.record(z.string(), z.unknown());
const ImageRef = z.strictObject({ ref: z.string(), id: z.string() });

export const PACK_JOBS = {
  /** `dir`: an absolute path the supervisor can read (npm dependencies already installed in it). */
  build: {
    data: z.strictObject({ dir: z.string().startsWith('/') }),
    value: ImageRef.extend({ base: z.string(), manifest: PackManifestSchema, log: z.array(z.string()) }),
  },
  list: {
    data: z.strictObject({ ref: z.string().min(1) }),
    value: z.strictObject({
      image: ImageRef,
      manifest: PackManifestSchema,
      listing: z.strictObject({
        tools: z.array(JsonObject),
        resources: z.array(JsonObject),
        resourceTemplates: z.array(JsonObject),
        prompts: z.array(JsonObject),
      }),
    }),
  },
} as const;
export type PackJobName = keyof typeof PACK_JOBS;
export type PackJobData<N extends PackJobName> = z.input<(typeof PACK_JOBS)[N]['data']>;
export type PackJobValue<N extends PackJobName> = z.output<(typeof PACK_JOBS)[N]['value']>;

export const PackJobFailure = z.strictObject({ code: z.literal('pack_rejected'), message: z.string() });
export const packJobOutcome = <T extends z.ZodType>(value: T) =>
  z.discriminatedUnion('ok', [
    z.strictObject({ ok: z.literal(true), value }),
    z.strictObject({ ok: z.literal(false), error: PackJobFailure }),
  ]);
