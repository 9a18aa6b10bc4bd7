/**
 * Builds the file tree the rclone test uploads: a real tree (default `/usr/share/doc`, thousands of small
 * text files in hundreds of directories), some generated files of awkward sizes, and hostile names.
 *
 * Symlinks are dereferenced when they point at a regular file and skipped otherwise (links to directories
 * would duplicate subtrees or loop; Debian's doc tree has both kinds, plus dangling ones).
 */
import { createCipheriv } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Names that break naive URL handling: reserved URL characters, quotes, non-Latin scripts, emoji, length. */
export const HOSTILE_NAMES: readonly string[] = [
  'with space.txt',
  'hash#tag.txt',
  'percent%20literal.txt',
  'percent%zz-invalid-escape.txt',
  'plus+sign.txt',
  'amp&ersand=and;semi.txt',
  "quote'single.txt",
  'brackets [1] (2) {3}.txt',
  'comma,at@dollar$bang!.txt',
  'tilde~caret^backtick`.txt',
  '中文文件名.txt',
  'русский текст.txt',
  'emoji 😀🎉 file.txt',
  'caf\u00e9 precomposed, cafe\u0301 combining.txt', // NFC and NFD in one name: neither side may normalise
  `${'n'.repeat(196)}.txt`, // 200 characters, below ext4's 255-byte name limit even with dav_fs's `.pag` suffix
];

/** Directory names under which a few of the hostile files are repeated, to test hostile parents too. */
export const HOSTILE_DIRS: readonly string[] = ['dir with space #1', '目录 100%', 'emoji 📁 & more'];

/** Sizes around buffer and chunk boundaries, plus a few MiB-sized files. */
export const SIZES: readonly number[] = [0, 1, 1023, 4095, 4096, 4097, 65_535, 65_536, 65_537, 1_048_577, 3 * 1_048_576 + 7, 8 * 1_048_576];

/**
 * Deterministic pseudo-random bytes: AES-128-CTR keystream under a key derived from `seed`. Fast (GB/s),
 * reproducible across runs and machines, and incompressible, so no layer can cheat by compressing.
 */
export function prngStream(seed: string): (n: number) => Buffer {
  const key = Buffer.alloc(16);
  key.write(seed.slice(0, 16));
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return (n) => cipher.update(Buffer.alloc(n));
}

export interface TreeStats {
  files: number;
  bytes: number;
  dirs: number;
}

function copyRealTree(src: string, dst: string, stats: TreeStats, maxFiles: number): void {
  mkdirSync(dst, { recursive: true });
  stats.dirs++;
  let entries;
  try {
    // Sorted, so a capped copy picks the same files on every run of the same machine image.
    entries = readdirSync(src, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch {
    return; // unreadable directory
  }
  for (const e of entries) {
    if (stats.files >= maxFiles) return;
    const from = join(src, e.name);
    const to = join(dst, e.name);
    if (e.isDirectory()) {
      copyRealTree(from, to, stats, maxFiles);
    } else if (e.isFile() || e.isSymbolicLink()) {
      try {
        const st = statSync(from); // follows links
        if (!st.isFile()) continue;
        copyFileSync(from, to);
        stats.files++;
        stats.bytes += st.size;
      } catch {
        // dangling link or unreadable file
      }
    }
  }
}

/**
 * Writes the tree into `dest` and returns its counts. At least `minFiles` files: if the source tree is
 * smaller (a minimal machine), generated filler makes up the difference. At most `maxRealFiles` are taken
 * from the real tree (first in sorted walk order).
 */
export function buildTree(dest: string, opts: { source?: string; minFiles?: number; maxRealFiles?: number } = {}): TreeStats {
  const stats: TreeStats = { files: 0, bytes: 0, dirs: 0 };
  copyRealTree(opts.source ?? '/usr/share/doc', join(dest, 'doc'), stats, opts.maxRealFiles ?? Infinity);

  const write = (path: string, data: Buffer | string): void => {
    writeFileSync(path, data);
    stats.files++;
    stats.bytes += Buffer.byteLength(data);
  };
  const mkdir = (path: string): void => {
    mkdirSync(path, { recursive: true });
    stats.dirs++;
  };

  mkdir(join(dest, 'hostile'));
  for (const name of HOSTILE_NAMES) write(join(dest, 'hostile', name), `name: ${name}\n`);
  for (const dir of HOSTILE_DIRS) {
    mkdir(join(dest, 'hostile', dir));
    for (const name of HOSTILE_NAMES.slice(0, 6)) write(join(dest, 'hostile', dir, name), `${dir}/${name}\n`);
  }

  const rand = prngStream('davgate-e2e-size');
  mkdir(join(dest, 'sizes'));
  for (const n of SIZES) write(join(dest, 'sizes', `size-${n}.bin`), rand(n));

  const min = opts.minFiles ?? 2_000;
  if (stats.files < min) {
    mkdir(join(dest, 'filler'));
    for (let i = 0; stats.files < min; i++) write(join(dest, 'filler', `f${String(i).padStart(5, '0')}.bin`), rand(i % 9_000));
  }
  return stats;
}

/** Counts regular files under `dir` (0 if it does not exist), skipping mod_dav_fs's `.DAV` metadata dirs. */
export function countFiles(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (e.name !== '.DAV') n += countFiles(join(dir, e.name));
    } else if (e.isFile()) n++;
  }
  return n;
}

/** Relative paths of all regular files under `dir` (excluding `.DAV`), sorted. */
export function listFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== '.DAV') out.push(...listFiles(p, base));
    } else if (e.isFile()) out.push(relative(base, p));
  }
  return out.sort();
}
