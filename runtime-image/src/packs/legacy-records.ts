// A records database left at the volume's root by a runtime from before the reference pack, moved
// into the pack's own directory before the pack first opens its store: by the image's entry
// (reference-prestart.ts) or, where that did not run, by the runtime's start (server.ts). No zod.
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { PACK_WORK_SUBDIR } from '../../../kernel/packs/pack-paths.ts';
import { RECORDS_DB } from './reference-meta.ts';

/**
 * Moves <dataDir>/records.db, with its WAL and shared-memory files, into the pack's own directory,
 * where the pack may reach it and no other pack may. The WAL goes first and the database last, so a
 * move cut short is finished by the next start; a database already in place is never overwritten.
 */
export function moveLegacyRecords(dataDir: string, packName: string): boolean {
  const from = join(dataDir, RECORDS_DB);
  const dir = join(dataDir, PACK_WORK_SUBDIR, packName);
  const to = join(dir, RECORDS_DB);
  if (!existsSync(from) || existsSync(to)) return false;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const suffix of ['-wal', '-shm', '']) {
    if (existsSync(from + suffix)) renameSync(from + suffix, to + suffix);
  }
  return true;
}
