// A hostile process inside a tenant's container: it runs as the tenant's UID (docker exec -u),
// takes over what answers on the runtime's socket (/run/mcp/mcp.sock) and answers every MCP
// request with one kind of hostile answer. It answers /healthz like a healthy runtime, so only
// the answers themselves give it away.
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';

export const HOSTILE_ANSWERS = [
  'huge-body',
  'endless-stream',
  'drip',
  'endless-notifications',
  'malformed-json',
  'huge-headers',
] as const;
export type HostileAnswer = (typeof HOSTILE_ANSWERS)[number];
/**
 * Beyond the read bounds: `forged-spans` answers with a spans header (kernel/telemetry/runtime-spans.ts)
 * holding one span of another trace, one of the call's own trace beneath the span the router handed
 * the call that claims another tenant (`forged-own`), and spans of the call's trace that forge its
 * tree or times (`forged-router`, `forged-root`, `forged-orphan`, `forged-times`).
 */
export type HostileMode = HostileAnswer | 'forged-spans';
/** The trace id of the forged span that belongs to no call. */
export const FOREIGN_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';

/**
 * The hostile request handler, plain JavaScript (it runs in the runtime image, not here): a
 * function of the answer kind. It uses only globals, so that it also runs injected into the
 * runtime's own process. Every loop in it stops by itself.
 */
const HOSTILE_HANDLER = String.raw`(mode) => {
  const GiB = 1024 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 'a');
  const note = Buffer.from('data: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"x"}}\n\n');
  // Writes until the peer goes away or the limit is reached, respecting back-pressure.
  const pump = (res, piece, limit) => {
    let sent = 0;
    const more = () => {
      while (sent < limit && !res.destroyed) {
        sent += piece.length;
        if (!res.write(piece)) return void res.once('drain', more);
      }
      res.end();
    };
    res.on('close', () => { sent = limit; });
    more();
  };
  const forgedSpans = (req) => {
    // The call's trace, read from the router's assertion (its claims are not secret): its id and the
    // span the router handed the call (the dispatch span).
    let own = '';
    let handed = '';
    try {
      const claims = JSON.parse(Buffer.from(String(req.headers['bulkhead-call-assertion']).split('.')[1], 'base64url').toString());
      [, own, handed] = String(claims.trace).split('-');
    } catch {}
    const now = BigInt(Date.now()) * 1000000n;
    const tenant = [{ key: 'bulkhead.tenant', value: { stringValue: 'someone-else' } }];
    const span = (traceId, name, fields) => ({ traceId, spanId: '1f2e3d4c5b6a7988', parentSpanId: handed, name,
      kind: 2, startTimeUnixNano: String(now - 1000000n), endTimeUnixNano: String(now), attributes: tenant, ...fields });
    const spans = [
      span('0af7651916cd43dd8448eb211c80319c', 'foreign'),
      // Beneath the span the router handed, within the call: kept, under the router's resource.
      span(own, 'forged-own'),
      // The router's own span (the handed id) re-sent with the runtime's name and times.
      span(own, 'forged-router', { spanId: handed, parentSpanId: '' }),
      // A second root of the client's trace, and a span hung beneath a span nobody sent.
      span(own, 'forged-root', { spanId: '2f2e3d4c5b6a7988', parentSpanId: undefined }),
      span(own, 'forged-orphan', { spanId: '3f2e3d4c5b6a7988', parentSpanId: '4f2e3d4c5b6a7988' }),
      // Far outside the call: from 1970 to the year 2500.
      span(own, 'forged-times', { spanId: '5f2e3d4c5b6a7988', startTimeUnixNano: '1', endTimeUnixNano: '16725225600000000000' }),
    ];
    const otlp = { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'forged' } }] },
      scopeSpans: [{ spans }] }] };
    return Buffer.from(JSON.stringify(otlp)).toString('base64url');
  };
  const answer = (res, req) => {
    switch (mode) {
      case 'forged-spans':
        res.writeHead(200, { 'content-type': 'application/json', 'bulkhead-trace-spans': forgedSpans(req) });
        return void res.end('{}');
      case 'huge-body':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"jsonrpc":"2.0","id":1,"result":{"pad":"');
        return pump(res, chunk, GiB);
      case 'endless-stream':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: ');
        return pump(res, chunk, 4 * GiB);
      case 'endless-notifications':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        return pump(res, note, 4 * GiB);
      case 'drip': {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{');
        let left = 110;
        const timer = setInterval(() => {
          if (res.destroyed || left-- <= 0) { clearInterval(timer); return void res.end(); }
          res.write(' ');
        }, 1000);
        return void res.on('close', () => clearInterval(timer));
      }
      case 'malformed-json':
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end('{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":');
      case 'huge-headers':
        res.writeHead(200, { 'content-type': 'application/json', 'x-pad': 'a'.repeat(1024 * 1024) });
        return void res.end('{}');
    }
  };
  return (req, res) => {
    if (req.url === '/healthz') return void res.writeHead(200).end('{"ok":true}');
    req.resume();
    req.on('end', () => answer(res, req));
  };
}`;

/** Takes the socket over: unlinks the runtime's socket and binds its own server there (runc). */
const SOCKET_TAKEOVER = String.raw`
const fs = require('node:fs');
const http = require('node:http');
const SOCKET = '/run/mcp/mcp.sock';
setTimeout(() => process.exit(0), 120000).unref();
const server = http.createServer(eval(process.argv[1])(JSON.parse(process.argv[2])));
try { fs.unlinkSync(SOCKET); } catch {}
// As the runtime does: a umask, not chmod.
process.umask(0);
server.listen(SOCKET, () => process.stdout.write('bound\n'));
`;

/**
 * Takes the runtime's own listener over from inside (gVisor refuses to unlink or rename a socket
 * the sandbox created on the host): SIGUSR1 opens the runtime's Node inspector on loopback, and
 * the hostile handler replaces the server's request handler through it.
 */
const INSPECTOR_TAKEOVER = String.raw`
const fs = require('node:fs');
const target = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && p !== String(process.pid))
  .find((p) => { try { return fs.readFileSync('/proc/' + p + '/cmdline', 'utf8').includes('/app/server.mjs'); } catch { return false; } });
if (!target) { console.error('no runtime process'); process.exit(1); }
process.kill(Number(target), 'SIGUSR1');
const expression = '(() => { const handler = (' + process.argv[1] + ')(' + process.argv[2] + ');' +
  " const http = process.getBuiltinModule('node:http');" +
  ' const servers = process._getActiveHandles().filter((h) => h instanceof http.Server);' +
  " for (const s of servers) { s.removeAllListeners('request'); s.on('request', handler); }" +
  ' return servers.length; })()';
(async () => {
  for (let attempt = 0; attempt < 100; attempt++) {
    const list = await fetch('http://127.0.0.1:9229/json/list').then((r) => r.json()).catch(() => undefined);
    if (list && list[0]) {
      const ws = new WebSocket(list[0].webSocketDebuggerUrl);
      ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression } }));
      ws.onmessage = (message) => {
        const value = JSON.parse(String(message.data)).result?.result?.value;
        if (value > 0) process.stdout.write('bound\n');
        else console.error('takeover failed: ' + String(message.data));
        ws.close();
        setTimeout(() => process.exit(0), 100000).unref();
      };
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.error('no inspector');
  process.exit(1);
})();
`;

/** `socket`: a server of its own on the runtime's socket path; `inspector`: the runtime's own server. */
export type Takeover = 'socket' | 'inspector';

export interface HostileProcess {
  stop(): void;
}

/** Starts the hostile server in the container as `uid`; resolves once it holds the socket. */
export async function startHostileAnswer(
  container: Docker.Container,
  options: { uid: number; mode: HostileMode; takeover: Takeover },
): Promise<HostileProcess> {
  const { uid, mode, takeover } = options;
  return takeOverRuntime(container, { uid, takeover, handler: HOSTILE_HANDLER, argument: mode });
}

/**
 * Runs, in the container as `uid`, a process that answers the router in the runtime's place with
 * `handler`: the source of a plain JavaScript function of `argument` (passed as JSON) that returns a
 * node:http request handler, using only globals. Resolves once it holds the socket (or the
 * runtime's own listener).
 */
export async function takeOverRuntime(
  container: Docker.Container,
  options: { uid: number; takeover: Takeover; handler: string; argument: unknown },
): Promise<HostileProcess> {
  const { uid, takeover, handler, argument } = options;
  const exec = await container.exec({
    Cmd: [
      'node',
      '-e',
      takeover === 'socket' ? SOCKET_TAKEOVER : INSPECTOR_TAKEOVER,
      handler,
      JSON.stringify(argument),
    ],
    User: `${uid}:${uid}`,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream: Duplex = await exec.start({ hijack: true, stdin: false });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hostile server did not bind: ${seen}`)), 15_000);
    stream.on('data', (data: Buffer) => {
      seen += data.toString();
      if (seen.includes('bound\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    stream.on('end', () => {
      clearTimeout(timer);
      reject(new Error(`hostile server ended: ${seen}`));
    });
  });
  stream.removeAllListeners('end');
  stream.on('error', () => undefined);
  return { stop: () => stream.destroy() };
}
