/**
 * Request bodies that stream to an upstream and can be replayed while what was read of them is kept.
 *
 * undici destroys a request body stream when the request fails; piping the client's request into it directly
 * would then kill the client's request too, making the single allowed retry impossible. A {@link LazyBody}
 * hands undici a fresh wrapper per attempt and only starts pulling from the client once undici reads —
 * which it does after the connection is established — so a refused connection leaves the client's body
 * untouched and replayable (issue #2: "A request body is replayed only if none of it was sent yet").
 *
 * A body that already sits in a file (a spooled PUT, `proxy/spool.ts`) is built with an opener instead of a
 * stream: each attempt reads the file afresh, so it is always replayable. It stays a {@link LazyBody} so the
 * gateway's send loop treats both alike.
 */
import { Readable } from 'node:stream';

/** Opens a fresh stream of the whole body, once per attempt (e.g. `fs.createReadStream` of a spool file). */
export type BodyOpener = () => Readable;

/**
 * A view of one source stream that can be sent again while every byte read from it so far is kept, or an
 * always-replayable body re-read per attempt.
 *
 * The first `replayLimit` bytes read from a stream source are kept in memory. An attempt that fails while the
 * kept copy still holds everything read (the body is shorter than the limit, or the failure came early) can be
 * followed by another: it sends the kept bytes again, then goes on reading the source where the first attempt
 * stopped. That is what makes the resend of a request that died on a stale keep-alive connection (RFC 9112
 * §9.3.1; `upstream/connection.ts`) work for a PUT of any size: such a failure comes as the request is written,
 * long before the first mebibyte has been read from the client (break-test of issue 8: a 100 KB PUT after an
 * idle gap got 502).
 */
export class LazyBody {
  readonly #source: Readable | undefined;
  readonly #open: BodyOpener | undefined;
  #started = false;
  /** Copy of the bytes read from the source, kept while the total stays within #replayLimit (undefined past it). */
  #copy: Buffer[] | undefined = [];
  #copied = 0;
  #ended = false;
  readonly #replayLimit: number;
  /** Detaches the current attempt from the source (so two attempts never read it at once). */
  #detachCurrent: (() => void) | undefined;

  /**
   * @param source - the client's body stream (held paused until an attempt reads), or a {@link BodyOpener}
   *   for a body stored in full elsewhere (then every attempt calls it and the body is always replayable)
   * @param replayLimit - bytes of a stream source kept in memory for a resend (bytes); ignored for an opener
   */
  constructor(source: Readable | BodyOpener, replayLimit = 0) {
    this.#replayLimit = replayLimit;
    if (typeof source === 'function') {
      this.#open = source;
      return;
    }
    this.#source = source;
    // Hold the source paused until an attempt reads from it.
    source.pause();
  }

  /** True once any byte was handed to a transport. */
  get started(): boolean {
    return this.#started;
  }

  /** True when another attempt can send the whole body from its first byte: every byte read so far is kept. */
  get replayable(): boolean {
    return this.#open !== undefined || this.#copy !== undefined;
  }

  /**
   * A new stream for one attempt: the kept bytes first (when an earlier attempt read some), then the rest of the
   * source. An earlier attempt still attached is detached first.
   * @throws Error when an earlier attempt read more than the kept copy holds (not replayable)
   */
  attempt(): Readable {
    if (this.#open) return this.#reopen(this.#open);
    if (this.#started && this.#copy === undefined) throw new Error('request body already sent; cannot replay');
    this.#detachCurrent?.();
    const src = this.#source!;
    const prefix = this.#copy ? [...this.#copy] : [];
    let attached = false;
    const onData = (chunk: Buffer) => {
      if (this.#copy) {
        this.#copied += chunk.length;
        if (this.#copied <= this.#replayLimit) this.#copy.push(chunk);
        else this.#copy = undefined;
      }
      if (!out.push(chunk)) src.pause();
    };
    const onEnd = () => {
      this.#ended = true;
      out.push(null);
    };
    const onError = (err: Error) => out.destroy(err);
    const detach = () => {
      src.off('data', onData);
      src.off('end', onEnd);
      src.off('error', onError);
      src.pause();
      if (this.#detachCurrent === detach) this.#detachCurrent = undefined;
    };
    this.#detachCurrent = detach;
    const out = new Readable({
      read: () => {
        if (!attached) {
          attached = true;
          this.#started = true;
          for (const chunk of prefix) out.push(chunk);
          if (this.#ended || src.readableEnded) {
            out.push(null);
            return;
          }
          src.on('data', onData);
          src.once('end', onEnd);
          src.once('error', onError);
        }
        src.resume();
      },
      destroy: (err, cb) => {
        detach();
        cb(err);
      },
    });
    return out;
  }

  /**
   * One attempt of an opener body. The opener runs on the transport's first read (after connecting, like a
   * stream source), so `started` keeps meaning "bytes were handed to a transport" and an attempt destroyed
   * unread opens nothing.
   */
  #reopen(open: BodyOpener): Readable {
    let inner: Readable | undefined;
    const out = new Readable({
      read: () => {
        if (!inner) {
          this.#started = true;
          const src = open();
          inner = src;
          src.on('data', (chunk: Buffer) => {
            if (!out.push(chunk)) src.pause();
          });
          src.once('end', () => out.push(null));
          src.once('error', (err) => out.destroy(err));
        }
        inner.resume();
      },
      destroy: (err, cb) => {
        inner?.destroy();
        cb(err);
      },
    });
    return out;
  }
}
