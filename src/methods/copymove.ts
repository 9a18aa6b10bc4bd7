/**
 * COPY and MOVE (RFC 4918 §9.8, §9.9) across upstreams.
 *
 * - The Destination (absolute URI or path, §10.3) is mapped into the gateway's namespace; another host is
 *   refused (502, §9.8.5 / §9.9.4).
 * - `Overwrite` (§10.6): absent means T; F on an existing destination gives 412; T replaces it (204).
 * - A file whose source and destination share an upstream is copied/moved natively with an absolute
 *   Destination (Apache refuses a path-only one). Across upstreams davgate streams a GET into a PUT, copies
 *   the dead properties, and for MOVE deletes the source only after the PUT succeeded.
 * - A collection is copied/moved by doing the operation on each upstream.
 * - On an upstream that never overwrites (坚果云), a same-upstream file COPY/MOVE onto an existing file sets
 *   the old file aside first and deletes it only after success (see `replace.ts`).
 */
import { DavgateError, Errors, isRequestFault } from '../errors.js';
import { parseDepth, parseDestination, parseOverwrite } from '../dav/destination.js';
import { keyToGatewayHref } from '../dav/href.js';
import { multistatusOfStatuses } from '../dav/error-body.js';
import { parseMultistatus } from '../dav/multistatus.js';
import { findChild, serializeXml, textOf, DAV_NS, type XmlElement } from '../dav/xml.js';
import { isSameOrBelow, keySegments, parentKey, pathLengthProblem } from '../path/canonical.js';
import { headerValue } from '../proxy/headers.js';
import type { Upstream } from '../upstream/upstream.js';
import { empty, relay, type DavContext, type MethodHandler } from './context.js';
import { checkPreconditions } from './preconditions.js';
import { deleteEverywhere } from './delete.js';
import { traitsOf } from '../upstream/profile.js';

/** Live properties (RFC 4918 §15, plus Apache's `executable`) that the server computes and must not be set. */
const LIVE_PROPS = new Set([
  `${DAV_NS} creationdate`,
  // Servers compute displayname from the name (webdav-server refuses to set it); carrying it over would
  // also give the copy the source's name.
  `${DAV_NS} displayname`,
  `${DAV_NS} getcontentlength`,
  `${DAV_NS} getcontenttype`,
  `${DAV_NS} getetag`,
  `${DAV_NS} getlastmodified`,
  `${DAV_NS} lockdiscovery`,
  `${DAV_NS} resourcetype`,
  `${DAV_NS} supportedlock`,
  `${DAV_NS} getcontentlanguage`,
  `${DAV_NS} quota-available-bytes`,
  `${DAV_NS} quota-used-bytes`,
  'http://apache.org/dav/props/ executable',
]);

/**
 * Which dead properties of a PROPFIND allprop answer to carry over. Pure.
 * @returns the `prop` children of 200 propstats that are not live properties
 */
export function deadProperties(response: XmlElement): XmlElement[] {
  const out: XmlElement[] = [];
  for (const ps of response.children) {
    if (typeof ps === 'string' || ps.ns !== DAV_NS || ps.local !== 'propstat') continue;
    const status = findChild(ps, DAV_NS, 'status');
    const statusText = status ? status.children.filter((c) => typeof c === 'string').join('') : '';
    if (!/\s200\s/.test(` ${statusText} `)) continue;
    const prop = findChild(ps, DAV_NS, 'prop');
    if (!prop) continue;
    for (const p of prop.children) {
      if (typeof p === 'string') continue;
      if (!LIVE_PROPS.has(`${p.ns} ${p.local}`)) out.push(p);
    }
  }
  return out;
}

async function copyDeadProps(ctx: DavContext, src: Upstream, srcKey: string, dst: Upstream, dstKey: string): Promise<void> {
  const { gw } = ctx;
  const res = await gw.send(src, {
    method: 'PROPFIND',
    key: srcKey,
    headers: { depth: '0', 'content-type': 'application/xml; charset=utf-8', 'accept-encoding': 'identity' },
    body: '<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>',
    signal: ctx.signal,
  });
  if (res.status !== 207) return void (await res.body.dump());
  const first = parseMultistatus(await res.body.text())[0];
  const props = first ? deadProperties(first.element) : [];
  if (props.length === 0) return;
  // PROPPATCH is atomic (RFC 4918 §9.2): one property the destination refuses fails them all with 424.
  // So send once, then once more with only the properties that failed by dependency.
  let pending = props;
  for (let round = 0; round < 2 && pending.length > 0; round++) {
    const outcome = await proppatchSet(ctx, dst, dstKey, pending);
    if (outcome.refused.length > 0 || (round === 1 && outcome.dependent.length > 0)) {
      ctx.req.log.warn(
        { upstream: dst.id, refused: outcome.refused.length + (round === 1 ? outcome.dependent.length : 0) },
        'some dead properties were not copied',
      );
    }
    pending = outcome.dependent;
  }
}

/**
 * Sets properties with one PROPPATCH and sorts the answer: which were refused outright and which failed
 * only because another one did (424 Failed Dependency).
 */
async function proppatchSet(
  ctx: DavContext,
  dst: Upstream,
  dstKey: string,
  props: XmlElement[],
): Promise<{ refused: XmlElement[]; dependent: XmlElement[] }> {
  const body =
    '<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>' +
    props.map((p) => serializeXml(p)).join('') +
    '</D:prop></D:set></D:propertyupdate>';
  const patch = await ctx.gw.send(dst, {
    method: 'PROPPATCH',
    key: dstKey,
    headers: { 'content-type': 'application/xml; charset=utf-8', 'accept-encoding': 'identity' },
    body,
    signal: ctx.signal,
  });
  if (patch.status === 200 || patch.status === 204) {
    await patch.body.dump();
    return { refused: [], dependent: [] };
  }
  if (patch.status !== 207) {
    await patch.body.dump();
    return { refused: props, dependent: [] };
  }
  const statusOf = new Map<string, number>();
  for (const r of parseMultistatus(await patch.body.text())) {
    for (const ps of r.element.children) {
      if (typeof ps === 'string' || ps.ns !== DAV_NS || ps.local !== 'propstat') continue;
      const st = findChild(ps, DAV_NS, 'status');
      const code = Number(/\s(\d{3})\s?/.exec(st ? textOf(st) : '')?.[1] ?? 0);
      const prop = findChild(ps, DAV_NS, 'prop');
      for (const p of prop?.children ?? []) if (typeof p !== 'string') statusOf.set(`${p.ns} ${p.local}`, code);
    }
  }
  const refused: XmlElement[] = [];
  const dependent: XmlElement[] = [];
  for (const p of props) {
    const code = statusOf.get(`${p.ns} ${p.local}`) ?? 200;
    if (code === 424) dependent.push(p);
    else if (code < 200 || code >= 300) refused.push(p);
  }
  return { refused, dependent };
}

/**
 * COPY/MOVE of a file. The new copy is put in place first and the destination's other copies go only after
 * that, so a failure part-way never leaves the destination without any version (RFC 4918 §9.8.4 allows
 * either order). The same upstream does it natively when it can overwrite; an account that never overwrites
 * (坚果云: 409 `DuplicateName` whatever `Overwrite` says, jianguoyun.md statement 9) gets GET + PUT (PUT does
 * overwrite there, in place) and, for MOVE, a DELETE of the source afterwards. That costs the bytes' traffic
 * but never leaves the destination missing, not even for a moment, and needs no undo that a throttled
 * account could refuse.
 */
async function copyOrMoveFile(
  ctx: DavContext,
  isMove: boolean,
  su: Upstream,
  destKey: string,
  destStats: Awaited<ReturnType<DavContext['gw']['statAll']>>,
  done: () => void,
): Promise<void> {
  const { gw, path } = ctx;
  const { upstream: du } = gw.placeNew(destKey);
  const onDu = destStats.find((s) => s.upstream === du)?.kind ?? 'absent';
  // A collection in the way on the target upstream has to go first: no upstream replaces one with a file.
  if (onDu === 'collection') {
    await deleteCopy(ctx, du, destKey, true);
    gw.forgetCollections();
  }
  await gw.ensureParent(du, destKey, ctx.signal);
  const overwrites = traitsOf(du.profile).overwritesOnCopyMove;
  let placed = false;
  if (du === su && (overwrites || onDu !== 'file')) {
    const res = await gw.send(du, {
      method: ctx.method,
      key: path.key,
      headers: { destination: du.urlFor(destKey), overwrite: 'T' },
      signal: ctx.signal,
    });
    if (res.status === 201 || res.status === 204) {
      await res.body.dump();
      placed = true;
    } else if (res.status === 409 && !overwrites) {
      // The account holds a copy davgate did not see (a stale one hidden by the repair journal, or a race):
      // replace it the way that works there.
      await res.body.dump();
    } else {
      return relay(ctx, res);
    }
  }
  if (!placed) {
    await gw.transfer(su, path.key, du, destKey, ctx.signal);
    // A 坚果云 account stores no dead properties: none to read at the source, none kept at the destination, so
    // the PROPFIND and PROPPATCH would only spend budget.
    if (traitsOf(su.profile).storesDeadProperties && traitsOf(du.profile).storesDeadProperties) {
      await copyDeadProps(ctx, su, path.key, du, destKey).catch((err: unknown) =>
        ctx.req.log.warn({ err: (err as Error).message }, 'dead properties not copied'),
      );
    }
  }
  gw.afterWrite(destKey, du);
  // The destination's copies on other upstreams are stale now; one that cannot be deleted is journalled.
  for (const s of destStats) {
    if (s.kind === 'absent' || s.upstream === du) continue;
    const status = await deleteCopy(ctx, s.upstream, destKey, s.kind === 'collection').catch(() => 0);
    if (status >= 300 && status !== 404) gw.afterDelete(destKey, [s.upstream]);
    if (s.kind === 'collection') gw.forgetCollections();
  }
  if (isMove && !(placed && du === su)) {
    const del = await gw.send(su, { method: 'DELETE', key: path.key, signal: ctx.signal });
    await del.body.dump();
    if (del.status >= 300 && del.status !== 404) {
      // The source refused to go (e.g. 423 Locked). When the destination was new, undo the copy so a failed
      // MOVE leaves one file, not two; an overwritten destination cannot be given back, so it stays.
      if (onDu !== 'file') {
        const undo = await gw.send(du, { method: 'DELETE', key: destKey, signal: ctx.signal }).catch(() => undefined);
        await undo?.body.dump();
      }
      const status = del.status >= 400 && del.status < 500 && del.status !== 401 ? del.status : 502;
      throw new DavgateError('DAVGATE_UPSTREAM_STATUS', status, `MOVE: the source could not be removed on ${su.id} (${del.status})`);
    }
  }
  if (isMove) {
    gw.afterDelete(path.key, gw.candidates(path.key).filter((u) => !u.available));
    gw.locks.removeAtOrBelow(path.key);
  }
  return done();
}

/** DELETEs one copy of `key` on `u`; returns the status. */
async function deleteCopy(ctx: DavContext, u: Upstream, key: string, collection: boolean): Promise<number> {
  const r = await ctx.gw.send(u, { method: 'DELETE', key, collection, signal: ctx.signal });
  await r.body.dump();
  if (r.status >= 300 && r.status !== 404 && collection) {
    throw new DavgateError('DAVGATE_UPSTREAM_STATUS', 502, `could not replace destination on ${u.id}`);
  }
  return r.status;
}

/** COPY/MOVE handler. */
export const handleCopyMove: MethodHandler = async (ctx) => {
  const { gw, path } = ctx;
  const isMove = ctx.method === 'MOVE';
  const dest = parseDestination(headerValue(ctx.req.headers, 'destination'), headerValue(ctx.req.headers, 'host'));
  const destTooLong = pathLengthProblem(keySegments(dest.key), gw.config.limits);
  if (destTooLong !== undefined) throw Errors.BAD_HEADER(`Destination: ${destTooLong}`);
  gw.checkNames(keySegments(dest.key));
  const overwrite = parseOverwrite(headerValue(ctx.req.headers, 'overwrite'));
  const depth = isMove
    ? parseDepth(headerValue(ctx.req.headers, 'depth'), ['infinity'], 'infinity')
    : parseDepth(headerValue(ctx.req.headers, 'depth'), ['0', 'infinity'], 'infinity');
  if (path.key === '/') throw new DavgateError('DAVGATE_FORBIDDEN', 403, `cannot ${ctx.method} the root collection`);
  if (dest.key === path.key) throw Errors.SAME_RESOURCE();
  if (dest.key === '/') throw new DavgateError('DAVGATE_FORBIDDEN', 403, 'cannot overwrite the root collection');

  // Both keys are written (MOVE) or one is (COPY); serialise with other writers and repairs of them.
  return gw.withKeyLock([path.key, dest.key], () => copyOrMove(ctx, isMove, dest.key, overwrite, depth));
};

async function copyOrMove(
  ctx: DavContext,
  isMove: boolean,
  destKey: string,
  overwrite: boolean,
  depth: '0' | 'infinity',
): Promise<void> {
  const { gw, path } = ctx;
  const dest = { key: destKey };
  const src = await gw.locate(path.key, ctx.signal);
  await checkPreconditions(ctx, [
    ...(isMove ? [{ key: path.key, deep: true, membership: true }] : []),
    { key: dest.key, deep: true, membership: true },
  ]);
  if (src.kind === 'collection' && isSameOrBelow(dest.key, path.key)) {
    throw new DavgateError('DAVGATE_FORBIDDEN', 403, 'cannot copy or move a collection into itself');
  }
  // Replacing a collection that contains the source would delete the source with it (RFC 4918 §9.8.4: the
  // destination is deleted first), so a COPY would lose what it copies.
  if (isSameOrBelow(path.key, dest.key)) {
    throw new DavgateError('DAVGATE_FORBIDDEN', 403, 'the destination contains the source');
  }
  if (!(await gw.collectionExists(parentKey(dest.key), ctx.signal))) {
    throw Errors.CONFLICT('destination parent collection does not exist');
  }
  const destStats = await gw.statAll(dest.key, ctx.signal);
  const unknown = destStats.find((s) => s.error);
  if (unknown?.error) throw unknown.error;
  const destExists = destStats.some((s) => s.kind !== 'absent');
  if (destExists && !overwrite) throw Errors.PRECONDITION_FAILED('destination exists and Overwrite is F');
  const done = () => empty(ctx, destExists ? 204 : 201);

  if (src.kind === 'file') return copyOrMoveFile(ctx, isMove, src.upstream, dest.key, destStats, done);

  // A collection: every enabled upstream takes part, so none may be down.
  const down = gw.enabled.find((u) => !u.available);
  if (down) throw Errors.UPSTREAM_DOWN(`${down.id}; a collection ${ctx.method} needs every upstream`, { retryAfterS: 5 });
  // A collection is copied per upstream, so a stale copy below it that the repair journal still owes a fix
  // would travel along and could be served at the new path. Every upstream is up here: settle those first.
  const owed = gw.enabled.flatMap((u) => gw.repairs.dueFor(u.id).map((e) => e.key)).filter((k) => isSameOrBelow(k, path.key));
  if (owed.length > 0 && !owed.includes(path.key) && !owed.includes(dest.key)) {
    for (const u of gw.enabled) await gw.runRepairs(u);
  }
  if (destExists) {
    const del = await deleteEverywhere(ctx, dest.key);
    if (del.kind === 'partial') throw Errors.BAD_GATEWAY('could not replace the destination on every upstream');
  }
  const srcStats = await gw.statAll(path.key, ctx.signal);
  const results = await Promise.all(
    srcStats.map(async (s) => {
      const u = s.upstream;
      try {
        await gw.ensureParent(u, dest.key, ctx.signal);
        if (s.kind !== 'collection') {
          // The collection was missing on this upstream (created during its outage): create it at the
          // destination so the collection exists gateway-wide.
          await gw.createCollectionOn(u, dest.key, ctx.signal);
          return { u, status: 201 };
        }
        const res = await gw.send(u, {
          method: ctx.method,
          key: path.key,
          collection: true,
          headers: { destination: u.urlFor(dest.key, true), overwrite: 'T', depth },
          signal: ctx.signal,
        });
        await res.body.dump();
        if (res.status === 201 || res.status === 204) gw.noteCollection(u, dest.key);
        return { u, status: res.status };
      } catch (err) {
        if (isRequestFault(err)) throw err;
        return { u, status: err instanceof DavgateError ? err.statusCode : 502 };
      }
    }),
  );
  if (isMove) {
    gw.forgetCollections();
    gw.repairs.takeBelow(path.key);
    // A MOVE ends the locks on the source (RFC 4918 §7.5); they do not travel with it.
    gw.locks.removeAtOrBelow(path.key);
  }
  const failed = results.filter((r) => r.status !== 201 && r.status !== 204);
  if (failed.length === 0) return done();
  if (failed.length === results.length && failed.every((f) => f.status === failed[0]!.status) && failed[0]!.status < 500) {
    throw new DavgateError('DAVGATE_UPSTREAM_STATUS', failed[0]!.status, `${ctx.method} refused by every upstream`);
  }
  ctx.reply
    .code(207)
    .header('content-type', 'application/xml; charset=utf-8')
    .send(
      multistatusOfStatuses(
        failed.map((f) => ({
          href: keyToGatewayHref(path.key, true),
          status: f.status >= 500 ? f.status : 424,
          description: `${ctx.method} failed on upstream ${f.u.id} (${f.status})`,
        })),
      ),
    );
};
