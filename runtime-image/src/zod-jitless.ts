// Imported first by the runtime's and the records pack's entry (code-cache-entry.ts), before their
// bundle loads: zod parses without generating code. By default zod 4 compiles a parser for each
// object schema with `new Function` the first time that schema parses. Code made that way is never
// in the image's V8 code cache, so every cold start compiled the generated parsers of the MCP
// requests it answered first (health ping, tool list, first call) again. With `jitless` those
// parses run zod's ordinary code, which the cache holds. In `test/bench/lifecycle.ts`, an image
// built this way beside one built without it, both ways round, made starts 10 to 26 ms faster at p50,
// with no difference in warm writes (docs/start-path.md). The router is long-lived and keeps zod's
// compiled parsers.
//
// zod reads its settings from this global, which it creates only when nothing has yet, and each
// object schema reads `jitless` when it is built: set here, before the bundle builds any schema.
// `test/unit/zod-jitless.test.ts` fails if a zod upgrade stops reading it.
const holder = globalThis as { __zod_globalConfig?: Record<string, unknown> };
holder.__zod_globalConfig = { ...holder.__zod_globalConfig, jitless: true };
