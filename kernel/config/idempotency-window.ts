// The idempotency window's bounds as plain numbers: the config field (common.ts) declares them with
// zod; the runtime image's small entry reads the default without zod
// (runtime-image/src/packs/reference-prestart.ts).
export const IDEMPOTENCY_WINDOW_DEFAULT_MS = 24 * 3600 * 1000;
export const IDEMPOTENCY_WINDOW_MIN_MS = 60_000;
