/**
 * undici's connection Pool and Client without the rest of undici. The package's index also loads fetch,
 * WebSocket, EventSource, the cache stores and more, which davgate never uses: ~7 MiB of resident memory at rest
 * (issue 8, "RSS at rest < 80 MiB"). This module loads only the Pool, the Client it builds connections with
 * (`upstream/connection.ts` subclasses it) and the `request()` API davgate calls on the Pool, as undici's own index
 * wires them (`Object.assign(Dispatcher.prototype, api)` there; here on a subclass, so no undici object is changed
 * for anyone else). undici has no `exports` map, and these paths are stable across 7.x; should a later release
 * move them, the public classes are loaded instead (the same classes, with the index's cost).
 */
import { createRequire } from 'node:module';
import type { Client as UndiciClient, Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);

function load(): { Pool: typeof UndiciPool; Client: typeof UndiciClient } {
  try {
    const Base = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
    const Client = require('undici/lib/dispatcher/client.js') as typeof UndiciClient;
    const request = require('undici/lib/api/api-request.js') as UndiciPool['request'];
    if (typeof Base !== 'function' || typeof Client !== 'function' || typeof request !== 'function') {
      throw new TypeError('unexpected undici layout');
    }
    class LeanPool extends Base {}
    Object.defineProperty(LeanPool.prototype, 'request', { value: request, writable: true, configurable: true });
    return { Pool: LeanPool, Client };
  } catch {
    const undici = require('undici') as { Pool: typeof UndiciPool; Client: typeof UndiciClient };
    return { Pool: undici.Pool, Client: undici.Client };
  }
}

const loaded = load();

/** undici's `Pool` (same constructor options, same `request()`), loaded without undici's index when possible. */
export const Pool: typeof UndiciPool = loaded.Pool;
/** The instance type of {@link Pool}. */
export type Pool = UndiciPool;
/** undici's `Client` (one connection at a time), loaded without undici's index when possible. */
export const Client: typeof UndiciClient = loaded.Client;
/** The instance type of {@link Client}. */
export type Client = UndiciClient;
