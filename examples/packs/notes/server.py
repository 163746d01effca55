#!/usr/bin/env python3
"""A minimal Bulkhead tool pack: an MCP server over stdio with only Python's standard library.

One JSON-RPC message per line on stdin and stdout (MCP's stdio transport); logs go to stderr.
The notes live in the working directory, the pack's own directory on the tenant's volume.
"""
import json
import os
import sys
from datetime import datetime, timezone

PROTOCOL_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"]
NOTES = "notes.jsonl"
MAX_TEXT = 2000

TOOLS = [
    {
        "name": "add",
        "title": "Add a note",
        "description": "Store one short note (at most 2000 characters) and return it with its number.",
        "inputSchema": {
            "type": "object",
            "properties": {"text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}},
            "required": ["text"],
            "additionalProperties": False,
        },
    },
    {
        "name": "list",
        "title": "List notes",
        "description": "Return the stored notes, oldest first.",
        "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
    },
]


def read_notes():
    if not os.path.exists(NOTES):
        return []
    with open(NOTES, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def call_tool(name, args):
    if name == "add":
        text = args.get("text")
        if not isinstance(text, str) or not 0 < len(text) <= MAX_TEXT:
            return {"isError": True, "content": [{"type": "text", "text": "text must be 1-2000 characters"}]}
        note = {"n": len(read_notes()) + 1, "text": text, "at": datetime.now(timezone.utc).isoformat()}
        with open(NOTES, "a", encoding="utf-8") as f:
            f.write(json.dumps(note) + "\n")
        return {"content": [{"type": "text", "text": json.dumps(note)}], "structuredContent": note}
    if name == "list":
        notes = {"notes": read_notes()}
        return {"content": [{"type": "text", "text": json.dumps(notes)}], "structuredContent": notes}
    return None


def answer(request):
    method, params = request.get("method"), request.get("params") or {}
    if method == "initialize":
        asked = params.get("protocolVersion")
        return {
            "protocolVersion": asked if asked in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "notes", "version": "1.0.0"},
        }
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        result = call_tool(params.get("name"), params.get("arguments") or {})
        if result is not None:
            return result
        raise LookupError(f"unknown tool {params.get('name')!r}")
    raise NotImplementedError(method)


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except json.JSONDecodeError:
            reply = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
            print(json.dumps(reply), flush=True)
            continue
        if "id" not in request:
            continue  # a notification (initialized, cancelled): nothing to answer
        reply = {"jsonrpc": "2.0", "id": request["id"]}
        try:
            reply["result"] = answer(request)
        except NotImplementedError as e:
            reply["error"] = {"code": -32601, "message": f"method not found: {e}"}
        except LookupError as e:
            reply["error"] = {"code": -32602, "message": str(e)}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
