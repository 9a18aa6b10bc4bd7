/**
 * A bandwidth-limited TCP relay: the per-connection speed limit a hosted WebDAV account imposes (each
 * connection gets at most `bytesPerSec` in each direction). Together with the account's in-flight cap it is
 * what makes N accounts faster than one in reality: one account moves at most cap × bytesPerSec, N accounts N
 * times that. Loopback only; plain `node:net`, no HTTP parsing.
 */
import net from 'node:net';

/**
 * Pipes `from` into `to` at most `bytesPerSec` (bytes/s), pausing `from` when it runs ahead (token bucket
 * without burst: each chunk books `len / rate` seconds of the line).
 */
function pipeLimited(from, to, bytesPerSec) {
  let nextFree = 0; // ms timestamp at which the line is free again
  from.on('data', (chunk) => {
    const now = performance.now();
    nextFree = Math.max(now, nextFree) + (chunk.length * 1000) / bytesPerSec;
    const ok = to.write(chunk);
    const wait = nextFree - now;
    if (wait > 2 || !ok) {
      from.pause();
      let waits = 1 + (ok ? 0 : 1);
      const resume = () => {
        if (--waits === 0 && !from.destroyed) from.resume();
      };
      setTimeout(resume, Math.max(0, wait));
      if (!ok) to.once('drain', resume);
    }
  });
  from.on('end', () => to.end());
}

/**
 * Starts a relay on 127.0.0.1 (a free port) to `targetPort`.
 * @param opts - `{ targetPort, bytesPerSec }`; `bytesPerSec` per connection and direction (bytes/s)
 * @returns `{ port, close() }`
 */
export async function startThrottle({ targetPort, bytesPerSec }) {
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => {
        sockets.delete(s);
        (s === client ? upstream : client).destroy();
      });
    }
    pipeLimited(client, upstream, bytesPerSec);
    pipeLimited(upstream, client, bytesPerSec);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: server.address().port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
