// The router's one mapping of a BulkheadError to a JSON-RPC error: the HTTP status and the JSON-RPC
// code come from the code's row in the error table (kernel/errors/error-codes.ts), never from a
// constant of its own. An HTTP refusal is a JSON-RPC error object with `id: null` (the request may
// not even have been parsed); a refusal inside an MCP exchange is a ProtocolError whose data is the
// same structured error a tool result carries.
import { MissingRequiredClientCapabilityError, ProtocolError } from '@modelcontextprotocol/server';
import type { BulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { ERROR_CODES, JSON_RPC, type ErrorCodeRow } from '../../kernel/errors/error-codes.ts';
import { extendedError, toolErrorFor } from '../../kernel/tools/tool-errors.ts';

export interface JsonRpcErrorAnswer {
  status: number;
  body: { jsonrpc: '2.0'; id: null; error: { code: number; message: string } };
}

function rowOf(error: BulkheadError): ErrorCodeRow {
  return ERROR_CODES[error.code];
}

function jsonRpcCodeOf(error: BulkheadError): number {
  const code = rowOf(error).jsonRpc;
  if (code === undefined) throw new TypeError(`error code ${error.code} has no JSON-RPC code`);
  return code;
}

/** Whether the error ends an HTTP exchange with a JSON-RPC error (its row has both). */
export function hasJsonRpcAnswer(error: BulkheadError): boolean {
  const row = rowOf(error);
  return row.http !== undefined && row.jsonRpc !== undefined;
}

/** The HTTP status and JSON-RPC error body of a refusal. */
export function jsonRpcAnswer(error: BulkheadError): JsonRpcErrorAnswer {
  const status = rowOf(error).http;
  if (status === undefined) throw new TypeError(`error code ${error.code} has no HTTP status`);
  return {
    status,
    body: { jsonrpc: '2.0', id: null, error: { code: jsonRpcCodeOf(error), message: error.message } },
  };
}

/** The same answer as a web Response (the fetch-shaped MCP endpoint). */
export function jsonRpcErrorResponse(error: BulkheadError, headers: Record<string, string> = {}): Response {
  const { status, body } = jsonRpcAnswer(error);
  return Response.json(body, { status, headers });
}

/**
 * A JSON-RPC error inside an MCP exchange (thrown from a request handler). `message` is what the
 * protocol error says (e.g. "Unknown tool: x"); the structured data carries the error's own. A code
 * a tools/call answers as a tool result (a rate limit, the runtime unavailable) reaches a relayed
 * request (relay-handlers.ts) as the server error, -32000, its structured error telling it apart.
 */
export function protocolErrorFor(error: BulkheadError, message: string = error.message): ProtocolError {
  const code = rowOf(error).jsonRpc ?? JSON_RPC.serverError;
  return new ProtocolError(code, message, toolErrorFor(error).structuredContent.error);
}

/**
 * The specification's answer to a 2026-07-28 request whose processing needs a client capability the
 * request did not declare: MissingRequiredClientCapability (-32021; the SDK answers it with HTTP
 * 400), its data naming the capabilities (`requiredCapabilities`) beside the router's structured
 * error, as protocolErrorFor carries it.
 */
export function missingCapabilityErrorFor(
  error: BulkheadError,
  requiredCapabilities: Record<string, object>,
): ProtocolError {
  const data = extendedError(toolErrorFor(error).structuredContent.error, { requiredCapabilities });
  return new MissingRequiredClientCapabilityError(data, error.message);
}
