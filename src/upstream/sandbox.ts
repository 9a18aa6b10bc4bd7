/**
 * The start-up check of each upstream's base folder (for a 坚果云 account, its sandbox).
 *
 * Why: a 坚果云 account keeps files only inside sandboxes (`/dav/<sandbox>/…`), and `MKCOL /dav/<name>` of a
 * single segment silently creates a new sandbox, even for a typo (jianguoyun.md §5). A gateway started on a
 * misspelt sandbox would show the app an empty store, and a sync client deletes on that. So davgate looks
 * before it serves: PROPFIND Depth 0 of the base (never HEAD, which the vendor refuses on folders, jianguoyun.md
 * "GET" row), and creates the folder only when the operator asked for it (`createSandbox: true`).
 */
import { ConfigError } from '../config/load.js';
import type { Gateway } from '../gateway.js';
import { parseMultistatus, RESOURCETYPE_PROPFIND } from '../dav/multistatus.js';
import type { Upstream } from './upstream.js';

/** What the base folder check found on one upstream. */
export type SandboxVerdict =
  /** The base is a collection: serve. */
  | 'ok'
  /** The base does not exist (404, or the vendor's 409 AncestorsNotFound). */
  | 'missing'
  /** The base exists but is a file. */
  | 'not-collection'
  /** The account refused the credentials (401) or the folder (403). */
  | 'refused'
  /** No definite answer (transport error, 5xx, throttling): the health machinery takes over. */
  | 'unknown';

/**
 * Classifies the answer to `PROPFIND <base> Depth: 0`. Pure.
 * @param status - HTTP status, or undefined after a transport error
 * @param isCollection - whether the 207 body's resourcetype holds DAV:collection (RFC 4918 §15.9)
 */
export function sandboxVerdict(status: number | undefined, isCollection: boolean): SandboxVerdict {
  if (status === 207) return isCollection ? 'ok' : 'not-collection';
  if (status === 404 || status === 409) return 'missing';
  if (status === 401 || status === 403) return 'refused';
  return 'unknown';
}

/** Looks at the base of `u`; one upstream request (counted in its budget). */
async function inspect(gw: Gateway, u: Upstream, timeoutMs: number): Promise<{ verdict: SandboxVerdict; status?: number }> {
  try {
    const res = await gw.send(u, {
      method: 'PROPFIND',
      key: '/',
      collection: true,
      headers: { depth: '0', 'content-type': 'application/xml; charset=utf-8', 'accept-encoding': 'identity' },
      body: RESOURCETYPE_PROPFIND,
      signal: AbortSignal.timeout(timeoutMs),
    });
    let isCollection = false;
    if (res.status === 207) isCollection = parseMultistatus(await res.body.text())[0]?.isCollection ?? false;
    else await res.body.dump();
    return { verdict: sandboxVerdict(res.status, isCollection), status: res.status };
  } catch {
    return { verdict: 'unknown' };
  }
}

/** Creates the base folder with one MKCOL; true on 201 (or 405: it appeared meanwhile). */
async function create(gw: Gateway, u: Upstream, timeoutMs: number): Promise<boolean> {
  try {
    const res = await gw.send(u, { method: 'MKCOL', key: '/', collection: true, signal: AbortSignal.timeout(timeoutMs) });
    await res.body.dump();
    return res.status === 201 || res.status === 405;
  } catch {
    return false;
  }
}

/**
 * Checks every enabled upstream's base folder at start, in parallel; creates it where `createSandbox` is set.
 * Transport errors, 5xx and throttling only log a warning: the account may come back, and health checks
 * handle that.
 *
 * @param gw - the gateway whose upstreams to check
 * @param log - where warnings and creations are reported (never with credentials)
 * @throws ConfigError naming `upstreams[i].url` (or `.createSandbox`) when a base folder is missing, is a file,
 *   or the account refuses the credentials (401/403): davgate must not serve a store it cannot see
 */
export async function checkSandboxes(gw: Gateway, log: { info(o: object, m: string): void; warn(o: object, m: string): void }): Promise<void> {
  const timeoutMs = gw.config.health.probeTimeoutMs;
  // Shown as written in the config (a typo in a Chinese folder name is invisible when percent-encoded).
  const shown = (u: Upstream) => {
    try {
      return decodeURIComponent(u.base.pathname);
    } catch {
      return u.base.pathname;
    }
  };
  const problems: { key: string; message: string }[] = [];
  await Promise.all(
    gw.config.upstreams.map(async (cfg, i) => {
      const u = gw.enabled.find((x) => x.id === cfg.id);
      if (!u) return;
      const key = `upstreams[${i}]`;
      const { verdict, status } = await inspect(gw, u, timeoutMs);
      switch (verdict) {
        case 'ok':
          return;
        case 'missing':
          if (cfg.createSandbox && (await create(gw, u, timeoutMs))) {
            log.info({ event: 'sandbox_created', upstream: u.id }, `created the base folder of upstream ${u.id}`);
            return;
          }
          problems.push({
            key: cfg.createSandbox ? `${key}.createSandbox` : `${key}.url`,
            message: cfg.createSandbox
              ? `upstream ${u.id}: the base folder ${shown(u)} is missing and could not be created (is its parent missing?)`
              : `upstream ${u.id}: the base folder ${shown(u)} does not exist on the account (${status}); check the spelling, or set ${key}.createSandbox: true to create it`,
          });
          return;
        case 'not-collection':
          problems.push({ key: `${key}.url`, message: `upstream ${u.id}: ${shown(u)} is a file, not a folder` });
          return;
        case 'refused':
          problems.push({
            key: `${key}.password`,
            message:
              `upstream ${u.id}: the account refused access to ${shown(u)} (${status}); check the username and (app) password` +
              // jianguoyun.md §1: some throttled bursts were answered 401 rather than 503.
              (u.profile === 'jianguoyun' ? ', or wait: a throttled 坚果云 account sometimes answers 401 for a while' : ''),
          });
          return;
        case 'unknown':
          log.warn(
            { event: 'sandbox_unchecked', upstream: u.id, status },
            `could not check the base folder of upstream ${u.id} at start; health checks will follow it`,
          );
      }
    }),
  );
  if (problems.length > 0) throw new ConfigError(problems);
}
