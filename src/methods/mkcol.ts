/**
 * MKCOL (RFC 4918 §9.3): collections exist gateway-wide, so the collection is created on every available
 * upstream. 201 on success; 405 when anything already exists at the URL; 409 when the parent does not
 * exist on the gateway; 415 for a request body (davgate supports no MKCOL body, §9.3.1).
 */
import { DavgateError, Errors } from '../errors.js';
import { parentKey } from '../path/canonical.js';
import { empty, hasRequestBody, type MethodHandler } from './context.js';
import { checkPreconditions } from './preconditions.js';
import type { Upstream } from '../upstream/upstream.js';

/** MKCOL handler. */
export const handleMkcol: MethodHandler = async (ctx) => {
  const { gw, path } = ctx;
  if (hasRequestBody(ctx)) throw Errors.UNSUPPORTED_MEDIA_TYPE('MKCOL with a body is not supported');
  if (path.key === '/') throw Errors.METHOD_NOT_ALLOWED('the root collection exists');
  await checkPreconditions(ctx, [{ key: path.key, membership: true }]);
  const available = gw.enabled.filter((u) => u.available);
  if (available.length === 0) throw Errors.NO_UPSTREAM(undefined, { retryAfterS: 5 });
  // Clients such as rclone send MKCOL of the parent before every upload; a folder davgate knows on every
  // account answers 405 without spending a request of any account's budget.
  if (gw.enabled.every((u) => gw.knowsCollection(u, path.key))) throw Errors.METHOD_NOT_ALLOWED('a resource exists at this URL');
  // Two MKCOLs of one name at once must not both answer 201 (RFC 4918 §9.3.1): one creates, the other sees it.
  return gw.withKeyLock([path.key], () => create(ctx, available));
};

async function create(ctx: Parameters<MethodHandler>[0], available: Upstream[]): Promise<void> {
  const { gw, path } = ctx;
  const here = await gw.statAll(path.key, ctx.signal, available);
  const failed = here.find((r) => r.error);
  if (failed?.error) throw failed.error;
  if (here.some((r) => r.kind !== 'absent')) throw Errors.METHOD_NOT_ALLOWED('a resource exists at this URL');
  if (!(await gw.collectionExists(parentKey(path.key), ctx.signal))) {
    throw Errors.CONFLICT('parent collection does not exist');
  }
  const results = await Promise.allSettled(available.map((u) => gw.createCollectionOn(u, path.key, ctx.signal)));
  const firstError = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (results.every((r) => r.status === 'rejected') && firstError) {
    throw firstError.reason instanceof DavgateError ? firstError.reason : Errors.BAD_GATEWAY(String(firstError.reason));
  }
  if (firstError) {
    ctx.req.log.warn({ err: String((firstError.reason as Error).message) }, 'MKCOL failed on some upstreams; they get it lazily');
  }
  empty(ctx, 201);
}
