/**
 * Request bodies that stream to an upstream and can be replayed only while none of them has been sent.
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

/** A replayable-until-started view of one source stream, or an always-replayable body re-read per attempt. */
export class LazyBody {
  readonly #source: Readable | undefined;
  readonly #open: BodyOpener | undefined;
  #started = false;
  /** Copy of the bytes handed out, kept while the total stays within #replayLimit (undefined past it). */
  #copy: Buffer[] | undefined = [];
  #copied = 0;
  #ended = false;
  readonly #replayLimit: number;

  /**
   * @param source - the client's body stream (held paused until an attempt reads), or a {@link BodyOpener}
   *   for a body stored in full elsewhere (then every attempt calls it and the body is always replayable)
   * @param replayLimit - bytes of a stream source kept in memory for a resend after it was read (bytes);
   *   ignored for an opener
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

  /** True when the whole body has been read and kept, so it can be sent again. */
  get replayable(): boolean {
    return this.#open !== undefined || (this.#ended && this.#copy !== undefined);
  }

  /** A new stream for one attempt. Throws if a previous attempt already consumed bytes of a stream source. */
  attempt(): Readable {
    if (this.#open) return this.#reopen(this.#open);
    if (this.#started && this.replayable) return Readable.from(this.#copy!);
    if (this.#started) throw new Error('request body already sent; cannot replay');
    const src = this.#source!;
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
    };
    const out = new Readable({
      read: () => {
        if (!attached) {
          attached = true;
          this.#started = true;
          src.on('data', onData);
          src.once('end', onEnd);
          src.once('error', onError);
          if (src.readableEnded) out.push(null);
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
