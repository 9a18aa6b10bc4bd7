/**
 * Request bodies that stream to an upstream and can be replayed only while none of them has been sent.
 *
 * undici destroys a request body stream when the request fails; piping the client's request into it directly
 * would then kill the client's request too, making the single allowed retry impossible. A {@link LazyBody}
 * hands undici a fresh wrapper per attempt and only starts pulling from the client once undici reads —
 * which it does after the connection is established — so a refused connection leaves the client's body
 * untouched and replayable (issue #2: "A request body is replayed only if none of it was sent yet").
 */
import { Readable } from 'node:stream';

/** A replayable-until-started view of one source stream. */
export class LazyBody {
  readonly #source: Readable;
  #started = false;
  /** Copy of the bytes handed out, kept while the total stays within #replayLimit (undefined past it). */
  #copy: Buffer[] | undefined = [];
  #copied = 0;
  #ended = false;
  readonly #replayLimit: number;

  constructor(source: Readable, replayLimit = 0) {
    this.#source = source;
    this.#replayLimit = replayLimit;
    // Hold the source paused until an attempt reads from it.
    source.pause();
  }

  /** True once any byte was handed to a transport. */
  get started(): boolean {
    return this.#started;
  }

  /** True when the whole body has been read and kept, so it can be sent again. */
  get replayable(): boolean {
    return this.#ended && this.#copy !== undefined;
  }

  /** A new stream for one attempt. Throws if a previous attempt already consumed bytes. */
  attempt(): Readable {
    if (this.#started && this.replayable) return Readable.from(this.#copy!);
    if (this.#started) throw new Error('request body already sent; cannot replay');
    const src = this.#source;
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
}
