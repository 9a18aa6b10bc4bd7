/**
 * undici's connection Pool without the rest of undici. The package's index also loads fetch, WebSocket,
 * EventSource, the cache stores and more, which davgate never uses: ~7 MiB of resident memory at rest (issue 8,
 * "RSS at rest < 80 MiB"). This module loads only the Pool and the `request()` API davgate calls on it, as
 * undici's own index wires them (`Object.assign(Dispatcher.prototype, api)` there; here on a subclass, so no
 * undici object is changed for anyone else). undici has no `exports` map, and both paths are stable across 7.x;
 * should a later release move them, the public Pool is loaded instead (the same class, with the index's cost).
 */
import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);

function loadPool(): typeof UndiciPool {
  try {
    const Base = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
    const request = require('undici/lib/api/api-request.js') as UndiciPool['request'];
    if (typeof Base !== 'function' || typeof request !== 'function') throw new TypeError('unexpected undici layout');
    class LeanPool extends Base {}
    Object.defineProperty(LeanPool.prototype, 'request', { value: request, writable: true, configurable: true });
    return LeanPool;
  } catch {
    return (require('undici') as { Pool: typeof UndiciPool }).Pool;
  }
}

/** undici's `Pool` (same constructor options, same `request()`), loaded without undici's index when possible. */
export const Pool: typeof UndiciPool = loadPool();
/** The instance type of {@link Pool}. */
export type Pool = UndiciPool;
