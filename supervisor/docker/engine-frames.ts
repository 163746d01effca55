// The engine's multiplexed output (a container's logs, an exec without a TTY), read whole: each frame
// behind an 8-byte header (stream, then the frame's length). For a stream still running, the engine
// client's own `modem.demuxStream`.
export function framesText(raw: Buffer): string {
  let text = '';
  for (let at = 0; at + 8 <= raw.length;) {
    const size = raw.readUInt32BE(at + 4);
    text += raw.subarray(at + 8, at + 8 + size).toString();
    at += 8 + size;
  }
  return text;
}
