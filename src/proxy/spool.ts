/**
 * The PUT spool: stores a request body that arrived without `Content-Length` in a temporary file, so it can be
 * sent with a length to an upstream that refuses chunked uploads. 坚果云 requires `Content-Length` on PUT
 * ("chunked or length-less bodies fail", jianguoyun.md §4 PUT row and statement 6), while macOS Finder and
 * other clients upload with `Transfer-Encoding: chunked`.
 *
 * Each spool gets its own `mkdtemp` directory (mode 0700) holding one file (mode 0600), so concurrent uploads
 * never share a name and other local users cannot read what clients upload. Whatever happens — success,
 * limit, client abort, disk error — the directory is removed: on failure here, otherwise by the caller's
 * {@link Spooled.dispose}.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { DavgateError, Errors, errorCode } from '../errors.js';
import { traitsOf } from '../upstream/profile.js';

/** Prefix of every spool directory name (inside `limits.spoolDir` or the OS temp directory). */
export const SPOOL_DIR_PREFIX = 'davgate-spool-';

/**
 * Whether a PUT must be spooled before it goes to an upstream of `profile`: only when the client sent no
 * `Content-Length` and the upstream needs one (坚果云, jianguoyun.md statement 6). Generic upstreams take
 * chunked bodies, so those keep streaming.
 *
 * @param contentLength - the client's `Content-Length` header, undefined when absent
 * @param profile - the target upstream's profile (`generic`, `jianguoyun`)
 */
export function mustSpool(contentLength: string | undefined, profile: string): boolean {
  return contentLength === undefined && !traitsOf(profile).acceptsChunkedPut;
}

/** Options of {@link spoolBody}. */
export interface SpoolOptions {
  /** Largest body accepted (bytes, `limits.spoolMaxBytes`); exactly this many is fine, one more is 413. */
  readonly maxBytes: number;
  /** Parent of the spool directory (absolute, `limits.spoolDir`); the OS temp directory when undefined. */
  readonly dir?: string | undefined;
  /** Aborts the spool when the client goes away (the request context's signal). */
  readonly signal?: AbortSignal | undefined;
}

/** A body stored in full in a temporary file. */
export interface Spooled {
  /** The file (inside its own temporary directory). */
  readonly path: string;
  /** Its length (bytes): the `Content-Length` to send. */
  readonly size: number;
  /** A new stream of the whole file; call once per upstream attempt (the body is replayable). */
  readonly open: () => Readable;
  /** Removes the file and its directory. Idempotent; never throws. */
  dispose(): Promise<void>;
}

/** A file-system failure while spooling: 507 (RFC 4918 §11.5), naming the error code but never the path. */
function storageError(err: unknown): DavgateError {
  return Errors.INSUFFICIENT_STORAGE(`could not spool the request body (${errorCode(err) ?? 'I/O error'})`, { cause: err });
}

/** The 413 answer past the limit, naming the limit and its config key. */
function tooLarge(maxBytes: number): DavgateError {
  return Errors.PAYLOAD_TOO_LARGE(`a PUT without Content-Length is limited to ${maxBytes} bytes (limits.spoolMaxBytes)`);
}

/** Writes all of `chunk` (a regular file may take it in several writes). */
async function writeAll(fh: FileHandle, chunk: Buffer): Promise<void> {
  for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
}

/**
 * Copies `source` into `fh`, at most `maxBytes`. Past the limit it stops reading without destroying the
 * source: destroying a request stream would cut the socket before the 413 is written.
 *
 * @returns the number of bytes written
 */
function copyBounded(source: Readable, fh: FileHandle, maxBytes: number, signal: AbortSignal | undefined): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let size = 0;
    let settled = false;
    const finish = (err?: DavgateError) => {
      if (settled) return;
      settled = true;
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', onError);
      source.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      source.pause();
      if (err) reject(err);
      else resolve(size);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return finish(tooLarge(maxBytes));
      // One write at a time: hold the client while the disk catches up (back-pressure).
      source.pause();
      writeAll(fh, chunk).then(
        () => {
          if (!settled) source.resume();
        },
        (err: unknown) => finish(storageError(err)),
      );
    };
    // 'end' cannot overtake a pending write: the source stays paused until the write finished.
    const onEnd = () => finish();
    const onError = (err: Error) => finish(Errors.CLIENT_CLOSED(undefined, { cause: err }));
    const onClose = () => {
      if (!source.readableEnded) finish(Errors.CLIENT_CLOSED());
    };
    const onAbort = () => finish(Errors.CLIENT_CLOSED());
    if (signal?.aborted) return finish(Errors.CLIENT_CLOSED());
    if (source.readableEnded) return finish();
    if (source.destroyed) return finish(Errors.CLIENT_CLOSED());
    source.on('data', onData);
    source.once('end', onEnd);
    source.once('error', onError);
    source.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
    // A LazyBody may have paused the source explicitly; a 'data' listener alone would not resume it.
    source.resume();
  });
}

/**
 * Reads `source` to its end into a new temporary file.
 *
 * @param source - the request body (not destroyed here on failure; the caller answers and closes)
 * @returns the stored body; the caller must call {@link Spooled.dispose} in every outcome
 * @throws DavgateError 413 `DAVGATE_PAYLOAD_TOO_LARGE` past `maxBytes` (reading stops there);
 *   499 `DAVGATE_CLIENT_CLOSED` when the client goes away mid-body;
 *   507 `DAVGATE_INSUFFICIENT_STORAGE` when the directory or file cannot be created or written.
 *   Nothing is left on disk after any of these.
 */
export async function spoolBody(source: Readable, opts: SpoolOptions): Promise<Spooled> {
  // The client may fail while the file is being created: its error must not go unhandled (copyBounded then
  // sees a destroyed source and answers 499).
  const ignore = () => undefined;
  source.on('error', ignore);
  try {
    return await spoolTo(source, opts);
  } finally {
    source.off('error', ignore);
  }
}

async function spoolTo(source: Readable, opts: SpoolOptions): Promise<Spooled> {
  let dir: string;
  try {
    dir = await mkdtemp(join(opts.dir ?? tmpdir(), SPOOL_DIR_PREFIX));
  } catch (err) {
    throw storageError(err);
  }
  const path = join(dir, 'body');
  let removed: Promise<void> | undefined;
  const dispose = () => (removed ??= rm(dir, { recursive: true, force: true }).catch(() => undefined));
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'wx', 0o600);
    const size = await copyBounded(source, fh, opts.maxBytes, opts.signal);
    const closing = fh;
    fh = undefined;
    // A close can report a deferred write error (e.g. quota on a network file system).
    await closing.close();
    return { path, size, open: () => createReadStream(path), dispose };
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await dispose();
    throw err instanceof DavgateError ? err : storageError(err);
  }
}
