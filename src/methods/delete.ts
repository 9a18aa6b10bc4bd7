/**
 * DELETE (RFC 4918 §9.6). A collection is deleted on every enabled upstream (refused with 503 while one is
 * down); if some fail the answer is 207 naming what failed (§9.6.1). A file is deleted wherever a copy of
 * it exists (normally only its owner); an upstream that cannot be asked is journalled to delete its copy when
 * it is back, so the file cannot resurface later.
 */
import { DavgateError, Errors, isRequestFault } from '../errors.js';
import { keyToGatewayHref } from '../dav/href.js';
import { multistatusOfStatuses } from '../dav/error-body.js';
import { parseDepth } from '../dav/destination.js';
import type { Upstream } from '../upstream/upstream.js';
import { empty, type DavContext, type MethodHandler } from './context.js';
import { checkPreconditions } from './preconditions.js';

/** Outcome of deleting a key on one upstream. */
interface DeleteResult {
  readonly upstream: Upstream;
  readonly ok: boolean;
  readonly status: number;
}

async function deleteOn(ctx: DavContext, u: Upstream, key: string, collection: boolean): Promise<DeleteResult> {
  try {
    const res = await ctx.gw.send(u, {
      method: 'DELETE',
      key,
      collection,
      headers: collection ? { depth: 'infinity' } : {},
      signal: ctx.signal,
    });
    await res.body.dump();
    const ok = res.status === 200 || res.status === 204 || res.status === 404;
    return { upstream: u, ok, status: res.status };
  } catch (err) {
    if (isRequestFault(err)) throw err;
    return { upstream: u, ok: false, status: err instanceof DavgateError ? err.statusCode : 502 };
  }
}

/**
 * Deletes `key` gateway-wide (used by DELETE and by COPY/MOVE with Overwrite: T).
 *
 * @returns `absent` if nothing existed, `deleted` on success, or the failed upstreams
 * @throws DavgateError 503 when nothing was found but some upstream could not be asked
 */
export async function deleteEverywhere(
  ctx: DavContext,
  key: string,
): Promise<{ kind: 'absent' } | { kind: 'deleted'; collection: boolean } | { kind: 'partial'; failed: DeleteResult[]; collection: boolean }> {
  const { gw } = ctx;
  const stats = await gw.statAll(key, ctx.signal);
  const unknown = stats.filter((s) => s.error);
  const collection = stats.some((s) => s.kind === 'collection');
  const holders = stats.filter((s) => s.kind === 'file' || s.kind === 'collection');
  if (holders.length === 0) {
    if (unknown.length > 0) throw unknown[0]!.error!;
    return { kind: 'absent' };
  }
  if (collection && unknown.length > 0) {
    // Deleting a collection on some upstreams only would leave it half there, with the members of the
    // unreachable ones; refuse before touching anything.
    throw Errors.UPSTREAM_DOWN(`${unknown[0]!.upstream.id}; deleting a collection needs every upstream`, {
      retryAfterS: unknown[0]!.error?.retryAfterS ?? 5,
    });
  }
  const results = await Promise.all(holders.map((s) => deleteOn(ctx, s.upstream, key, collection)));
  if (collection) {
    gw.forgetCollections();
    gw.repairs.takeBelow(key);
  } else if (results.every((r) => r.ok)) {
    // Upstreams that could not be asked may still hold a copy: they delete it when they are back.
    gw.afterDelete(key, unknown.map((s) => s.upstream));
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) return { kind: 'partial', failed, collection };
  return { kind: 'deleted', collection };
}

/** DELETE handler. */
export const handleDelete: MethodHandler = async (ctx) => {
  const { path } = ctx;
  if (path.key === '/') throw new DavgateError('DAVGATE_FORBIDDEN', 403, 'the root collection cannot be deleted');
  parseDepth(ctx.req.headers['depth'] as string | undefined, ['infinity', '0'], 'infinity');
  await checkPreconditions(ctx, [{ key: path.key, deep: true, membership: true }]);
  const outcome = await ctx.gw.withKeyLock([path.key], () => deleteEverywhere(ctx, path.key));
  if (outcome.kind === 'absent') throw Errors.NOT_FOUND();
  if (outcome.kind === 'deleted') {
    ctx.gw.locks.removeAtOrBelow(path.key);
    return empty(ctx, 204);
  }
  const f = outcome.failed;
  const allFailed = f.length > 0 && f.every((r) => r.status === f[0]!.status) && !outcome.collection;
  if (allFailed) throw new DavgateError('DAVGATE_UPSTREAM_STATUS', f[0]!.status, `DELETE failed on ${f[0]!.upstream.id}`);
  if (f.length === 1 && f[0]!.status >= 400 && f[0]!.status < 500 && !outcome.collection) {
    throw new DavgateError('DAVGATE_UPSTREAM_STATUS', f[0]!.status, `DELETE refused by ${f[0]!.upstream.id}`);
  }
  // 207 naming what failed (RFC 4918 §9.6.1). The href is the gateway's; the reason names the upstream id.
  const href = keyToGatewayHref(path.key, outcome.collection);
  ctx.reply
    .code(207)
    .header('content-type', 'application/xml; charset=utf-8')
    .send(
      multistatusOfStatuses(
        f.map((r) => ({ href, status: r.status >= 500 ? r.status : 424, description: `not deleted on upstream ${r.upstream.id} (${r.status})` })),
      ),
    );
};
