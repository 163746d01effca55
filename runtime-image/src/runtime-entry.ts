// The runtime image's entry point (/app/server.mjs). In this order (ES modules run their imports in
// the order written): the reference pack's early start (packs/reference-prestart.ts), then the
// runtime's bundle with its code cache (code-cache-entry.ts, which is also the records pack's own
// entry, without the first step).
import './packs/reference-prestart-run.ts';
import './code-cache-entry.ts';
