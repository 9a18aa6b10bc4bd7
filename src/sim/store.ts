/**
 * Storage of the simulated 坚果云 account: a tree of folders and files under `/dav/`, kept in memory or in a
 * real folder. Paths are arrays of decoded segments relative to `/dav/` (`[]` is the read-only root, one segment
 * is a sandbox, jianguoyun.md §5).
 *
 * Each file has a version (`X-File-Version`, jianguoyun.md §4 PUT row) and an opaque ETag. ETags are 22
 * characters of base64 of 16 random bytes, like the captured `rErap3U7trvdPsbTKxpZxg` (jianguoyun.md §4 "ETag
 * format"). A file found on disk that the simulator did not write gets version 1 and an ETag derived from its
 * inode, size and mtime, so it stays stable across requests and changes when the file does.
 *
 * The store does no HTTP checks (existence of parents, names): the request handler does, in the vendor's order.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { cp, mkdir, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** What the store knows about one resource. */
export interface StoreEntry {
  /** Folder or file. */
  readonly kind: 'dir' | 'file';
  /** Bytes; 0 for folders (jianguoyun.md §4: getcontentlength `0` for folders). */
  readonly size: number;
  /** Last modification, ms since the epoch. */
  readonly mtimeMs: number;
  /** Version counter of a file, 1 on creation (jianguoyun.md §4 PUT row); 0 for folders. */
  readonly version: number;
  /** Opaque ETag token of a file, without quotes; `''` for folders (jianguoyun.md §4: empty getetag). */
  readonly etag: string;
}

/** A tree of folders and files (jianguoyun.md §4, §5). Implemented in memory and on disk. */
export interface SimStore {
  /** The entry at `p`, or undefined. */
  stat(p: readonly string[]): Promise<StoreEntry | undefined>;
  /** Names of the children of folder `p`, sorted by UTF-16 code unit order. */
  list(p: readonly string[]): Promise<string[]>;
  /** Bytes `start..end` (inclusive) of file `p`. */
  read(p: readonly string[], start: number, end: number): Readable;
  /**
   * Writes file `p` from `body`, replacing it if present. Resolves after the whole body arrived.
   * @returns the new version (1 for a new file, previous + 1 for an overwrite)
   */
  write(p: readonly string[], body: Readable): Promise<number>;
  /** Creates folder `p`; its parent exists. */
  mkdir(p: readonly string[]): Promise<void>;
  /** Removes `p`, recursively for folders (jianguoyun.md §4 DELETE row). */
  remove(p: readonly string[]): Promise<void>;
  /** Copies `from` to `to` (absent; its parent exists), recursively for folders. */
  copy(from: readonly string[], to: readonly string[]): Promise<void>;
  /** Moves `from` to `to` (absent; its parent exists). */
  move(from: readonly string[], to: readonly string[]): Promise<void>;
}

/** A fresh 22-character ETag token (jianguoyun.md §4 "ETag format"). */
export function newEtag(): string {
  return randomBytes(16).toString('base64').slice(0, 22);
}

function key(p: readonly string[]): string {
  return p.join('/');
}

async function collect(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

interface MemFile {
  kind: 'file';
  data: Buffer;
  mtimeMs: number;
  version: number;
  etag: string;
}
interface MemDir {
  kind: 'dir';
  children: Map<string, MemNode>;
  mtimeMs: number;
}
type MemNode = MemFile | MemDir;

/** In-memory {@link SimStore}. `now` stamps modification times. */
export class MemoryStore implements SimStore {
  private readonly root: MemDir;

  constructor(private readonly now: () => number) {
    this.root = { kind: 'dir', children: new Map(), mtimeMs: now() };
  }

  private node(p: readonly string[]): MemNode | undefined {
    let n: MemNode = this.root;
    for (const s of p) {
      if (n.kind !== 'dir') return undefined;
      const next: MemNode | undefined = n.children.get(s);
      if (!next) return undefined;
      n = next;
    }
    return n;
  }

  private dir(p: readonly string[]): MemDir {
    const n = this.node(p);
    if (!n || n.kind !== 'dir') throw new Error(`not a folder: /${key(p)}`);
    return n;
  }

  async stat(p: readonly string[]): Promise<StoreEntry | undefined> {
    const n = this.node(p);
    if (!n) return undefined;
    if (n.kind === 'dir') return { kind: 'dir', size: 0, mtimeMs: n.mtimeMs, version: 0, etag: '' };
    return { kind: 'file', size: n.data.length, mtimeMs: n.mtimeMs, version: n.version, etag: n.etag };
  }

  async list(p: readonly string[]): Promise<string[]> {
    return [...this.dir(p).children.keys()].sort();
  }

  read(p: readonly string[], start: number, end: number): Readable {
    const n = this.node(p);
    if (!n || n.kind !== 'file') throw new Error(`not a file: /${key(p)}`);
    return Readable.from([n.data.subarray(start, end + 1)]);
  }

  async write(p: readonly string[], body: Readable): Promise<number> {
    const data = await collect(body);
    const parent = this.dir(p.slice(0, -1));
    const name = p[p.length - 1]!;
    const old = parent.children.get(name);
    const version = old && old.kind === 'file' ? old.version + 1 : 1;
    parent.children.set(name, { kind: 'file', data, mtimeMs: this.now(), version, etag: newEtag() });
    parent.mtimeMs = this.now();
    return version;
  }

  async mkdir(p: readonly string[]): Promise<void> {
    const parent = this.dir(p.slice(0, -1));
    parent.children.set(p[p.length - 1]!, { kind: 'dir', children: new Map(), mtimeMs: this.now() });
    parent.mtimeMs = this.now();
  }

  async remove(p: readonly string[]): Promise<void> {
    const parent = this.dir(p.slice(0, -1));
    parent.children.delete(p[p.length - 1]!);
    parent.mtimeMs = this.now();
  }

  private clone(n: MemNode): MemNode {
    const t = this.now();
    if (n.kind === 'file') return { kind: 'file', data: n.data, mtimeMs: t, version: 1, etag: newEtag() };
    const children = new Map<string, MemNode>();
    for (const [k, v] of n.children) children.set(k, this.clone(v));
    return { kind: 'dir', children, mtimeMs: t };
  }

  async copy(from: readonly string[], to: readonly string[]): Promise<void> {
    const src = this.node(from);
    if (!src) throw new Error(`missing: /${key(from)}`);
    const parent = this.dir(to.slice(0, -1));
    parent.children.set(to[to.length - 1]!, this.clone(src));
    parent.mtimeMs = this.now();
  }

  async move(from: readonly string[], to: readonly string[]): Promise<void> {
    const src = this.node(from);
    if (!src) throw new Error(`missing: /${key(from)}`);
    const srcParent = this.dir(from.slice(0, -1));
    const dstParent = this.dir(to.slice(0, -1));
    srcParent.children.delete(from[from.length - 1]!);
    dstParent.children.set(to[to.length - 1]!, src);
    srcParent.mtimeMs = dstParent.mtimeMs = this.now();
  }
}

/** Name of the folder inside `dataDir` where uploads are spooled before the rename; never listed. */
export const SPOOL_DIR = '.davgate-sim-spool';

interface FileMeta {
  version: number;
  etag: string;
  /** The stat the meta was recorded for; a different one on disk means someone else changed the file. */
  ino: number;
  size: number;
  mtimeMs: number;
}

/**
 * {@link SimStore} on a real folder: `/dav/<a>/<b>` is `<dataDir>/<a>/<b>`. Versions and ETags are kept in
 * memory (they reset when the simulator restarts, like a fresh account that already holds the files).
 */
export class DirStore implements SimStore {
  private readonly meta = new Map<string, FileMeta>();

  constructor(readonly dataDir: string) {}

  private fsPath(p: readonly string[]): string {
    return path.join(this.dataDir, ...p);
  }

  async init(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true });
    await rm(path.join(this.dataDir, SPOOL_DIR), { recursive: true, force: true });
    await mkdir(path.join(this.dataDir, SPOOL_DIR));
  }

  async stat(p: readonly string[]): Promise<StoreEntry | undefined> {
    if (p[0] === SPOOL_DIR) return undefined;
    let s;
    try {
      s = await stat(this.fsPath(p));
    } catch {
      return undefined;
    }
    if (s.isDirectory()) return { kind: 'dir', size: 0, mtimeMs: s.mtimeMs, version: 0, etag: '' };
    if (!s.isFile()) return undefined;
    const m = this.meta.get(key(p));
    if (m && m.ino === s.ino && m.size === s.size && m.mtimeMs === s.mtimeMs) {
      return { kind: 'file', size: s.size, mtimeMs: s.mtimeMs, version: m.version, etag: m.etag };
    }
    const etag = createHash('md5').update(`${s.ino}:${s.size}:${s.mtimeMs}`).digest('base64').slice(0, 22);
    return { kind: 'file', size: s.size, mtimeMs: s.mtimeMs, version: m?.version ?? 1, etag };
  }

  async list(p: readonly string[]): Promise<string[]> {
    const names = await readdir(this.fsPath(p));
    return names.filter((n) => !(p.length === 0 && n === SPOOL_DIR)).sort();
  }

  read(p: readonly string[], start: number, end: number): Readable {
    if (end < start) return Readable.from([]);
    return createReadStream(this.fsPath(p), { start, end });
  }

  async write(p: readonly string[], body: Readable): Promise<number> {
    const spool = path.join(this.dataDir, SPOOL_DIR, randomBytes(8).toString('hex'));
    try {
      await pipeline(body, createWriteStream(spool));
      const old = await this.stat(p);
      const version = old && old.kind === 'file' ? old.version + 1 : 1;
      await rename(spool, this.fsPath(p));
      const s = await stat(this.fsPath(p));
      this.meta.set(key(p), { version, etag: newEtag(), ino: s.ino, size: s.size, mtimeMs: s.mtimeMs });
      return version;
    } catch (err) {
      await unlink(spool).catch(() => undefined);
      throw err;
    }
  }

  async mkdir(p: readonly string[]): Promise<void> {
    await mkdir(this.fsPath(p));
  }

  private dropMeta(p: readonly string[]): void {
    const k = key(p);
    for (const m of [...this.meta.keys()]) if (m === k || m.startsWith(k + '/')) this.meta.delete(m);
  }

  async remove(p: readonly string[]): Promise<void> {
    await rm(this.fsPath(p), { recursive: true, force: true });
    this.dropMeta(p);
  }

  async copy(from: readonly string[], to: readonly string[]): Promise<void> {
    // A copy is a new file: version 1 and an ETag derived from its own inode (no meta recorded).
    await cp(this.fsPath(from), this.fsPath(to), { recursive: true, errorOnExist: true, force: false });
  }

  async move(from: readonly string[], to: readonly string[]): Promise<void> {
    await rename(this.fsPath(from), this.fsPath(to));
    const k = key(from);
    const nk = key(to);
    for (const [m, v] of [...this.meta.entries()]) {
      if (m === k || m.startsWith(k + '/')) {
        this.meta.delete(m);
        this.meta.set(nk + m.slice(k.length), v);
      }
    }
  }
}
