/**
 * What each upstream profile can and cannot do, in one table, so that the methods ask about a behaviour
 * ("does this account overwrite on MOVE?") rather than about a vendor name. The `jianguoyun` row follows
 * docs/jianguoyun.md; `generic` is an RFC 4918 server such as Apache mod_dav.
 */
import type { UpstreamConfig } from '../config/schema.js';

/** The behaviours davgate adapts to. Every field is a fact about the account, not a davgate setting. */
export interface ProfileTraits {
  /** COPY/MOVE replace an existing destination when `Overwrite: T` (RFC 4918 §10.6). 坚果云: no, 409 `DuplicateName` (statement 9). */
  readonly overwritesOnCopyMove: boolean;
  /** PROPPATCH of dead properties stores them (RFC 4918 §9.2). 坚果云: answers 207 but stores nothing (§4). */
  readonly storesDeadProperties: boolean;
  /** PUT accepts a body without `Content-Length` (chunked). 坚果云: refused (statement 6). */
  readonly acceptsChunkedPut: boolean;
  /** Byte ranges are answered as RFC 9110 §14 says (clamped, suffix ranges). 坚果云: 416 past EOF, suffix misread (statement 8). */
  readonly rfcRanges: boolean;
  /** A file under a missing folder answers 409 `AncestorsNotFound` instead of 404 (坚果云, statement 7). */
  readonly missingParentIs409: boolean;
  /** Names with `: * ? " < > |` are refused (坚果云 §5), so davgate refuses them up front. */
  readonly forbidsWindowsNameChars: boolean;
  /** A `503` whose body says `BlockedTemporarily` means "throttled: rest", not "down" (坚果云 §1). */
  readonly throttlesWith503: boolean;
  /**
   * `If-Match` / `If-None-Match` (and the date conditionals) are evaluated as RFC 9110 §13 says: `*`, lists,
   * strong vs weak comparison, If-None-Match on PUT. 坚果云: exact-string compares only, If-Match only on PUT,
   * If-None-Match only on GET/HEAD (statement 10), so davgate evaluates them itself and forwards none.
   */
  readonly rfcConditionals: boolean;
  /**
   * GET/HEAD of a collection URL without its trailing slash may answer 404, so a 404 there does not prove the
   * key absent (some generic servers serve no GET on collections). 坚果云 answers 403 on any folder (statement 7),
   * so its 404 means absent.
   */
  readonly folderReadMayBe404: boolean;
}

const TRAITS: Readonly<Record<UpstreamConfig['profile'], ProfileTraits>> = {
  generic: {
    overwritesOnCopyMove: true,
    storesDeadProperties: true,
    acceptsChunkedPut: true,
    rfcRanges: true,
    missingParentIs409: false,
    forbidsWindowsNameChars: false,
    throttlesWith503: false,
    rfcConditionals: true,
    folderReadMayBe404: true,
  },
  jianguoyun: {
    overwritesOnCopyMove: false,
    storesDeadProperties: false,
    acceptsChunkedPut: false,
    rfcRanges: false,
    missingParentIs409: true,
    forbidsWindowsNameChars: true,
    throttlesWith503: true,
    rfcConditionals: false,
    folderReadMayBe404: false,
  },
};

/**
 * The traits of a profile. Pure.
 * @param profile - `generic` or `jianguoyun` (validated at config load); anything else is treated as generic
 */
export function traitsOf(profile: string): ProfileTraits {
  return Object.hasOwn(TRAITS, profile) ? TRAITS[profile as UpstreamConfig['profile']] : TRAITS.generic;
}
