/**
 * undici's connection Pool without the rest of undici. The package's index also loads fetch, WebSocket,
 * EventSource, the cache stores and more, which davgate never uses: ~7 MiB of resident memory at rest (issue 8,
 * "RSS at rest < 80 MiB"). This module loads only the Pool and the `request()` API davgate calls on it, as
 * undici's own index wires them (`Object.assign(Dispatcher.prototype, api)` there; here on a subclass, so no
 * undici object is changed for anyone else). undici has no `exports` map, and both paths are stable across 7.x.
 */
import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);
const BasePool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;

/** undici's `Pool` (same constructor options, same `request()`), loaded without undici's index. */
export class Pool extends BasePool {}
Object.defineProperty(Pool.prototype, 'request', {
  value: require('undici/lib/api/api-request.js') as UndiciPool['request'],
  writable: true,
  configurable: true,
});
