// Every error code Bulkhead produces, in one closed table. A code decides its class (what the agent
// may do about it) and, where the failure can cross it, how each boundary shows it: an HTTP status,
// a JSON-RPC error code, a CLI exit code. A boundary maps a BulkheadError through this table once
// (kernel/tools/tool-errors.ts for tool results; the router's JSON-RPC mapper; the CLI's exit code;
// the runtime's HTTP answers) instead of keeping its own list.
/** The classes an agent meets in a tool result: what it may do about the failure. */
export const AGENT_ERROR_CLASSES = [
  'validation',
  'authorization',
  'rate_limit',
  'conflict',
  'transient',
  'permanent',
] as const;
export type AgentErrorClass = (typeof AGENT_ERROR_CLASSES)[number];
// Not an agent's concern: the request itself was malformed (HTTP/JSON-RPC level), or an operator
// gave the CLI bad input.
export const ERROR_CLASSES = [...AGENT_ERROR_CLASSES, 'request', 'operator'] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

export interface ErrorCodeRow {
  readonly class: ErrorClass;
  /** HTTP status where the failure ends an HTTP exchange. */
  readonly http?: number;
  /** JSON-RPC error code where it is answered as a JSON-RPC error rather than a tool result. */
  readonly jsonRpc?: number;
  /** Exit code of the CLI (1 when absent). */
  readonly exit?: number;
  /**
   * A tenant runtime may answer a failure with it (its own, or its packs'): the router records that
   * code as the runtime's. Any other code a runtime names (the router's own refusals, say
   * `rate_limit_exceeded` or `invalid_token`) is recorded as `runtime_code_refused` instead.
   */
  readonly runtime?: true;
}

/** JSON-RPC 2.0 codes (the specification's, and -32000..-32099 "server error" for our own). */
export const JSON_RPC = {
  parseError: -32700,
  invalidRequest: -32600,
  invalidParams: -32602,
  serverError: -32000,
  sessionNotFound: -32001,
  resourceNotFound: -32002,
  headerMismatch: -32020,
} as const;

export const ERROR_CODES = {
  // validation: the agent must change the call.
  invalid_arguments: { class: 'validation', runtime: true, jsonRpc: JSON_RPC.invalidParams },
  payload_too_large: { class: 'validation' },
  unknown_tool: { class: 'validation', runtime: true, jsonRpc: JSON_RPC.invalidParams },
  unknown_id: { class: 'validation', runtime: true },
  unknown_prompt: { class: 'validation', runtime: true, jsonRpc: JSON_RPC.invalidParams },
  unknown_resource: { class: 'validation', runtime: true, jsonRpc: JSON_RPC.resourceNotFound },
  // A multi-round-trip requestState this router did not seal for this caller and request (router/mcp/request-state.ts).
  request_state_invalid: { class: 'validation', runtime: true, jsonRpc: JSON_RPC.invalidParams },
  date_out_of_range: { class: 'validation', runtime: true },
  date_order: { class: 'validation', runtime: true },
  negative_quantity: { class: 'validation', runtime: true },
  path_traversal: { class: 'validation', runtime: true },
  unsafe_characters: { class: 'validation', runtime: true },
  // authorization: who is calling may not do this.
  invalid_token: { class: 'authorization', http: 401 },
  insufficient_scope: { class: 'authorization', http: 403 },
  tenant_suspended: { class: 'authorization', exit: 3 },
  tenant_not_found: { class: 'authorization', exit: 3 },
  forbidden_origin: { class: 'authorization', http: 403, jsonRpc: JSON_RPC.serverError },
  forbidden_host: { class: 'authorization', http: 403, jsonRpc: JSON_RPC.serverError },
  assertion_rejected: { class: 'authorization', http: 401 },
  // The console (console/): not signed in, a role that may not do this, an action without its CSRF proof.
  sign_in_required: { class: 'authorization', http: 401 },
  role_required: { class: 'authorization', http: 403 },
  csrf_rejected: { class: 'authorization', http: 403 },
  sign_in_failed: { class: 'authorization', http: 400 },
  // The egress gateway (egress/) refused a destination: not in the tenant's or pack's allowlist,
  // or a host name that resolves to a private address.
  egress_denied: { class: 'authorization', http: 403 },
  // Before authentication: one source address sent too many refused tokens.
  auth_flood: { class: 'rate_limit', http: 429, jsonRpc: JSON_RPC.serverError },
  // A tenant has as many request bodies still arriving at one router as one tenant may (router/http/body-reads.ts).
  bodies_in_progress: { class: 'rate_limit', http: 429, jsonRpc: JSON_RPC.serverError },
  // conflict: the state does not allow it as asked.
  idempotency_key_reused: { class: 'conflict', runtime: true },
  duplicate_ref: { class: 'conflict', runtime: true },
  // A pack write whose key reached the pack without an answer: not dispatched again (at most once).
  pack_outcome_unknown: { class: 'conflict', runtime: true },
  tenant_exists: { class: 'conflict', exit: 3 },
  generation_conflict: { class: 'conflict', exit: 4 },
  // rate_limit: a budget is spent; retry after retry_after_ms (kernel/ratelimit/rate-limiter.ts).
  rate_limit_exceeded: { class: 'rate_limit' },
  // Too many calls in flight to one tenant's container through one router (kernel/process/concurrency-gate.ts).
  concurrency_limit: { class: 'rate_limit' },
  // A tenant has as many 2026-07-28 subscriptions/listen streams open on this router as one tenant
  // may (router/mcp/listen-limit.ts).
  listen_limit: { class: 'rate_limit', jsonRpc: JSON_RPC.serverError },
  // An upstream's shared call budget is spent (egress/upstream-budget.ts).
  upstream_budget_exceeded: { class: 'rate_limit', http: 429 },
  // transient: retry later (after retry_after_ms where given).
  // The first call with this idempotency key is still running: the same call again, later, gets
  // its stored result, so an agent must be told it may retry (a conflict class would say it may not).
  idempotency_in_progress: { class: 'transient', runtime: true },
  runtime_unavailable: { class: 'transient' },
  // Redis, the router's shared state, did not answer within the call's deadline (router/pipeline/state-guard.ts),
  // or the job queue did not take a supervisor job in time (supervisor/client/job-request.ts).
  state_unavailable: { class: 'transient', http: 503, jsonRpc: JSON_RPC.serverError },
  // A trusted issuer's keys (its JWKS) could not be fetched to verify a token (router/auth/token-verifier.ts).
  issuer_unavailable: { class: 'transient', http: 503, jsonRpc: JSON_RPC.serverError },
  runtime_backoff: { class: 'transient' },
  runtime_call_failed: { class: 'transient' },
  // A tenant runtime answered a failure under a code without `runtime` in its row: what the router
  // records in its place (router/metrics/router-metrics.ts, `errorCodeIn`).
  runtime_code_refused: { class: 'transient' },
  runtime_failed: { class: 'transient' },
  socket_tampered: { class: 'transient' },
  read_bound_exceeded: { class: 'transient', runtime: true },
  // Egress: the upstream did not answer, or the credential the gateway adds could not be read.
  upstream_unreachable: { class: 'transient', http: 502 },
  credential_unavailable: { class: 'transient', http: 502 },
  // A pack inside the tenant's container (runtime-image/src/packs/): crashed or broke the protocol,
  // kept failing (its circuit is open), or did not answer in time (killed).
  pack_unavailable: { class: 'transient', runtime: true },
  pack_circuit_open: { class: 'transient', runtime: true },
  pack_timeout: { class: 'transient', runtime: true },
  // A 2025 client did not answer the router's elicitation or sampling request (router/mcp/client-requests.ts).
  client_input_failed: { class: 'transient' },
  // permanent: retrying the same call cannot help.
  tool_withheld: { class: 'permanent', runtime: true },
  // More than one of the tenant's packs claims a resource URI or template, or a pack answered a read
  // with a URI another pack claims: refused until the operator changes the packs
  // (runtime-image/src/packs/pack-reach.ts).
  resource_conflict: { class: 'permanent', runtime: true, jsonRpc: JSON_RPC.invalidParams },
  illegal_transition: { class: 'permanent' },
  retry_limit_exceeded: { class: 'permanent' },
  // The sealed audit segments do not verify: edited, removed, reordered or unsigned (kernel/audit).
  audit_verification_failed: { class: 'permanent', exit: 5 },
  // The sealed audit segments cannot be read by this process (its groups are not the readers' group
  // the supervisor gives them, or the audit directory does not let it through): kernel/audit/audit-access.ts.
  audit_unreadable: { class: 'permanent', http: 500 },
  // A tool asked for the client's input more rounds than the router allows (router/mcp/input-rounds.ts).
  input_rounds_exceeded: { class: 'permanent' },
  // A runtime asked the client something the router does not carry, or too much at once, or what the
  // client did not declare it answers (the same file).
  input_request_refused: { class: 'permanent' },
  // request: the HTTP/JSON-RPC exchange itself was malformed.
  body_too_large: { class: 'request', http: 413, jsonRpc: JSON_RPC.serverError },
  parse_error: { class: 'request', http: 400, jsonRpc: JSON_RPC.parseError },
  batch_not_supported: { class: 'request', http: 400, jsonRpc: JSON_RPC.invalidRequest },
  session_required: { class: 'request', http: 400, jsonRpc: JSON_RPC.serverError },
  session_not_found: { class: 'request', http: 404, jsonRpc: JSON_RPC.sessionNotFound },
  header_mismatch: { class: 'request', http: 400, jsonRpc: JSON_RPC.headerMismatch },
  method_not_allowed: { class: 'request', http: 405, jsonRpc: JSON_RPC.serverError },
  // More than one Host header (RFC 9112 section 3.2), or a request Node's HTTP parser refused before
  // the router saw it (router/listener.ts): its headers too large, or its framing malformed.
  host_repeated: { class: 'request', http: 400, jsonRpc: JSON_RPC.invalidRequest },
  headers_too_large: { class: 'request', http: 431, jsonRpc: JSON_RPC.invalidRequest },
  malformed_request: { class: 'request', http: 400, jsonRpc: JSON_RPC.invalidRequest },
  // Egress: not a proxy request the gateway serves (origin-form, https:// absolute-form, a bad target).
  egress_bad_request: { class: 'request', http: 400 },
  // operator: the CLI's input.
  usage: { class: 'operator', exit: 2 },
  invalid_input: { class: 'operator', exit: 2 },
  invalid_spec: { class: 'operator', exit: 2 },
  invalid_config: { class: 'operator', exit: 2 },
  // A pack version named in a pin or a tenant record has no approval in the pack registry.
  pack_not_approved: { class: 'operator', exit: 3 },
  // A pack failed its build, its sandbox run or its statements (the message says which).
  pack_rejected: { class: 'operator' },
  // development only: the development IdP refused a request.
  idp_request_failed: { class: 'transient' },
} as const satisfies Record<string, ErrorCodeRow>;

/** The closed union of every code: a new failure needs a row above first. */
export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export function errorRow(code: ErrorCode): ErrorCodeRow {
  return ERROR_CODES[code];
}

/** The codes of one class, for a boundary that accepts only those (e.g. a tool result's class). */
export type CodeOfClass<K extends ErrorClass> = {
  [C in ErrorCode]: (typeof ERROR_CODES)[C]['class'] extends K ? C : never;
}[ErrorCode];
