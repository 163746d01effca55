// The operator's and auditor's use cases on the sealed audit segments, offline (no Redis): verify a
// tenant's chain of segments, export its records as JSON lines for a SIEM, and create the audit
// keys of an installation.
import { createPublicKey, hash, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { exportedEntry, parseSegment } from '../../kernel/audit/audit-segment.ts';
import { trailDirExists } from '../../kernel/audit/audit-access.ts';
import type { SegmentsCheck } from '../../kernel/audit/segment-chain.ts';
import {
  offboardedDirsOf,
  readSegmentText,
  tenantSegmentDir,
  walkSegmentFiles,
} from '../../kernel/audit/segment-files.ts';
import { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { atPath } from '../../kernel/errors/path-refusal.ts';
import { writeEd25519Pair } from './call-keys.ts';

/** Which segments: a tenant's under the audit directory, or one directory given as is. */
export type SegmentSource = { root: string; tenant: string } | { dir: string };

export function segmentDir(source: SegmentSource): string {
  return 'dir' in source ? source.dir : tenantSegmentDir(source.root, source.tenant);
}

/**
 * The source's directory, which must exist, and the tenant its segments must belong to. An
 * offboarded tenant's trail was moved aside (supervisor/audit/audit-sealer.ts): the refusal names
 * where, for `--dir`.
 */
async function existingSource(source: SegmentSource): Promise<{ dir: string; tenant: string | undefined }> {
  const dir = segmentDir(source);
  if (!(await trailDirExists(dir))) {
    const moved =
      'tenant' in source
        ? (await offboardedDirsOf(source.root, source.tenant)).map((name) => join(source.root, name))
        : [];
    const hint = moved.length ? `; an offboarded tenant's trail is in ${moved.join(', ')} (pass --dir)` : '';
    throw new BulkheadError('invalid_input', `${dir}: no such audit directory${hint}`);
  }
  if (!statSync(dir).isDirectory())
    throw new BulkheadError(
      'invalid_input',
      `${dir}: not a directory (an audit directory holds segment files)`,
    );
  return { dir, tenant: 'tenant' in source ? source.tenant : undefined };
}

export async function readPublicKey(file: string | undefined): Promise<KeyObject> {
  if (file === undefined)
    throw new BulkheadError(
      'usage',
      'no public key: pass --public-key FILE or set BULKHEAD_AUDIT_PUBLIC_KEY_FILE',
    );
  const text = await atPath({ path: file, verb: 'read' }, () => readFile(file, 'utf8'));
  try {
    return createPublicKey(text);
  } catch (error) {
    throw new BulkheadError('invalid_input', `${file}: not a public key (SPKI PEM)`, { cause: error });
  }
}

export interface VerifyReport extends SegmentsCheck {
  dir: string;
  /** The newest segment the supervisor shipped to the SIEM (its signed record), when shipping is on. */
  shippedThrough?: number;
  /** The shipped record does not verify: why (the supervisor neither ships nor prunes by it). */
  shippedProblem?: string;
}

/** Work done so far, of how much: called after each segment. */
export type Progress = (done: number, total: number) => void;

/** Checks every segment of the source offline; `ok: false` with the first problem when it does not hold. */
export async function verifySegments(
  source: SegmentSource,
  publicKey: KeyObject,
  options: {
    progress?: Progress | undefined;
    /** The tenant record's createdAt the segments must be of (`--created-at`); none: as they say. */
    createdAt?: string | undefined;
  } = {},
): Promise<VerifyReport> {
  const { dir, tenant } = await existingSource(source);
  const { progress, createdAt } = options;
  const check = await walkSegmentFiles({ dir, publicKey, tenant, createdAt, progress });
  const { shipped, ...checked } = check;
  const ship =
    shipped === undefined
      ? {}
      : 'cursor' in shipped
        ? { shippedThrough: shipped.cursor.segment }
        : { shippedProblem: shipped.problem };
  return { ...checked, dir, ...ship };
}

export interface ExportOptions {
  /** Only records at or after `from`, and before `to` (their `at`). */
  from?: Date | undefined;
  to?: Date | undefined;
  out: Writable;
  /** The tenant record's createdAt the segments must be of (`--created-at`); none: as they say. */
  createdAt?: string | undefined;
  /** Segments verified, then exported, so far (two passes over the same segments). */
  verifying?: Progress | undefined;
  exporting?: Progress | undefined;
}

/**
 * Verifies the segments, then writes one JSON object per record (every field of the entry, plus
 * `segment` and `segment_digest`) to `out`. A chain that does not verify, or (given `createdAt`) is
 * of another tenant of the id, is not exported: an
 * audit_verification_failed error names the problem, and nothing was written. Both passes read one
 * segment at a time; the second writes a segment only if its bytes are the ones the first verified
 * (their SHA-256): a file changed between the two is refused with the same error, after the records
 * of the segments before it (the CLI's --out then leaves no file).
 */
export async function exportSegments(
  source: SegmentSource,
  publicKey: KeyObject,
  options: ExportOptions,
): Promise<{ records: number; check: VerifyReport }> {
  const { dir, tenant } = await existingSource(source);
  const verified: { name: string; sha256: string }[] = [];
  const check = await walkSegmentFiles({
    dir,
    publicKey,
    tenant,
    createdAt: options.createdAt,
    onVerified: ({ name, text }) => void verified.push({ name, sha256: hash('sha256', text, 'hex') }),
    progress: options.verifying,
  });
  if (!check.ok)
    throw new BulkheadError('audit_verification_failed', `${dir}: ${check.problem ?? 'does not verify'}`);
  let records = 0;
  async function* lines(): AsyncGenerator<string> {
    for (const [i, { name, sha256 }] of verified.entries()) {
      const text = await readSegmentText(dir, name);
      if (hash('sha256', text, 'hex') !== sha256)
        throw new BulkheadError(
          'audit_verification_failed',
          `${dir}: ${name} changed after it was verified; exported ${records} records before it, none of it`,
        );
      const segment = parseSegment(text);
      for (const entry of segment.entries) {
        const at = Date.parse(entry.at);
        if (options.from && at < options.from.getTime()) continue;
        if (options.to && at >= options.to.getTime()) continue;
        yield `${JSON.stringify(exportedEntry(entry, segment))}\n`;
        records += 1;
      }
      options.exporting?.(i + 1, verified.length);
    }
  }
  // Through a pipeline, which waits for `out` to drain and fails on its error: an output closed
  // early (stdout piped into `head`, a reader that died, a full disk) was an unhandled 'error' event,
  // the CLI's crash with a stack, or a wait for a drain that never came. `out` is left open (stdout).
  await pipeline(Readable.from(lines()), options.out, { end: false }).catch((error: unknown) => {
    if (error instanceof BulkheadError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new BulkheadError(
      'invalid_input',
      `the output refused the records (${code}) after ${records} of them: the export is not whole`,
      { cause: error },
    );
  });
  return { records, check: { ...check, dir } };
}

export interface AuditKeyFiles {
  signingKeyFile: string;
  publicKeyFile: string;
  secretFile: string;
}

/**
 * Creates what is missing of an installation's audit keys in `dir`: the Ed25519 pair that signs
 * segments (the supervisor's private key; the public one goes to auditors) and the secret the
 * argument digests are keyed from (every router).
 */
export async function ensureAuditKeys(dir: string): Promise<AuditKeyFiles & { created: string[] }> {
  const files = {
    signingKeyFile: join(dir, 'audit-signing.key'),
    publicKeyFile: join(dir, 'audit-signing.pub'),
    secretFile: join(dir, 'audit-secret'),
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const created: string[] = [];
  if (!existsSync(files.signingKeyFile) || !existsSync(files.publicKeyFile)) {
    await writeEd25519Pair({ privateKeyFile: files.signingKeyFile, publicKeyFile: files.publicKeyFile });
    created.push(basename(files.signingKeyFile), basename(files.publicKeyFile));
  }
  if (!existsSync(files.secretFile)) {
    await writeFile(files.secretFile, randomBytes(32).toString('hex'), { mode: 0o600 });
    await chmod(files.secretFile, 0o600);
    created.push(basename(files.secretFile));
  }
  return { ...files, created };
}
