/**
 * Free loopback ports for processes the e2e suite spawns.
 *
 * Binding port 0 and closing gives a port the kernel considers free right now; another process may take it
 * before ours binds, so callers that spawn servers retry on "address in use" (see apache.ts, gateway.ts).
 */
import { createServer } from 'node:net';

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: no TCP address'));
        return;
      }
      const { port } = addr;
      srv.close(() => resolve(port));
    });
  });
}
