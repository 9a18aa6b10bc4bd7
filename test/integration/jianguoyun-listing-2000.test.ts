/**
 * A 2,000-file folder lists completely through davgate at the REAL 坚果云 page size. A 坚果云 listing stops at
 * 750 entries per page and continues via `Link: <…?mk=…>; rel="next"` (jianguoyun.md §5); clients that ignore it
 * lose files ("897 of ~2000" seen), and sync clients delete what a listing omits. jianguoyun-paged-listing.test.ts
 * checks paging at a small page size; this one uses the simulator's default 750 and a folder big enough that one
 * account must serve several pages, then reads the folder three ways: raw PROPFIND Depth 1, the `webdav` npm
 * client's getDirectoryContents, and davgate's HTML index (GET on the collection).
 *
 * Weights 4,1,1 put about two thirds of the files on one account; the test asserts (from src/placement/hrw.ts
 * `rank`) that it holds more than one page, so it cannot silently stop exercising paging.
 */
import t from 'tap';
import { request } from 'undici';
import { createClient, type FileStat } from 'webdav';
import { loadConfig } from '../../src/config/load.js';
import { rank } from '../../src/placement/hrw.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { DEFAULT_PAGE_SIZE, startJianguoyunSim, type JianguoyunSim } from '../../src/sim/jianguoyun.js';

const SANDBOX = encodeURIComponent('我的坚果云');
const FILES = 2_000;
const DIR = 'big 目录';
/** The collection's path as a client writes it (one segment, percent-encoded). */
const DIR_PATH = `/${encodeURIComponent(DIR)}/`;
const CONCURRENCY = 16;
const UPSTREAMS = [
  { id: 'j0', weight: 4 },
  { id: 'j1', weight: 1 },
  { id: 'j2', weight: 1 },
] as const;

/**
 * Hostile but vendor-legal name forms (spaces, Chinese, `%`, `%25` literally, `#`, `&`, `+`, `;`, `=`, `'`,
 * brackets; none of the forbidden `: * ? " < > |`, jianguoyun.md §5). Every 20th file takes one, so about a
 * hundred of them are spread over every account and every page.
 */
const HOSTILE_FORMS: readonly ((n: string) => string)[] = [
  (n) => `space ${n} and  two.txt`,
  (n) => `中文 文件 ${n}.txt`,
  (n) => `${n} 100% sure.txt`,
  (n) => `${n} literal%25 and %20.txt`,
  (n) => `#${n} hash#frag.txt`,
  (n) => `a&b ${n} &amp; c.txt`,
  (n) => `mix 坚果 %#& ${n}.md`,
  (n) => `plus+${n};semi=eq 'q' [x].txt`,
];

function fileName(i: number): string {
  const n = String(i).padStart(4, '0');
  return i % 20 === 7 ? HOSTILE_FORMS[Math.floor(i / 20) % HOSTILE_FORMS.length]!(n) : `f${n}.txt`;
}

const NAMES = Array.from({ length: FILES }, (_, i) => fileName(i));
/** Distinct content per file, with multi-byte characters, so each getcontentlength is checkable. */
const contentOf = (name: string): Buffer => Buffer.from(`内容 of ${name}\n`.repeat(1 + (name.length % 5)), 'utf8');

/** Children of one 坚果云 listing page: the folder's own entry opens every page (src/sim/jianguoyun.ts). */
const CHILDREN_PER_PAGE = DEFAULT_PAGE_SIZE - 1;
const pagesFor = (n: number): number => Math.max(1, Math.ceil(n / CHILDREN_PER_PAGE));

/** How many of NAMES each upstream owns, by the gateway's own placement function. */
const OWNED = (() => {
  const count = new Map<string, number>(UPSTREAMS.map((u) => [u.id, 0]));
  for (const n of NAMES) {
    const owner = rank(`/${DIR}/${n}`, UPSTREAMS)[0]!.id;
    count.set(owner, count.get(owner)! + 1);
  }
  return UPSTREAMS.map((u) => count.get(u.id)!);
})();

const sims: JianguoyunSim[] = [];
let server: RunningServer;

t.before(async () => {
  for (let i = 0; i < UPSTREAMS.length; i++) sims.push(await startJianguoyunSim({ budget: 100_000 }));
  server = await startServer(
    loadConfig({
      env: {},
      object: {
        listen: { host: '127.0.0.1', port: 0 },
        upstreams: sims.map((s, i) => ({
          id: UPSTREAMS[i]!.id,
          weight: UPSTREAMS[i]!.weight,
          url: `${s.url}${SANDBOX}/`,
          username: s.username,
          password: s.password,
          profile: 'jianguoyun',
          budget: { requests: 90_000, windowMs: 1_800_000, minSpacingMs: 0 },
        })),
        auth: 'none',
        health: { intervalMs: 3_600_000 },
        limits: { queueTimeoutMs: 60_000 },
        log: { level: 'silent' },
      },
    }),
  );
});
t.teardown(async () => {
  await server?.close();
  for (const s of sims) await s.stop();
});

const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer) => {
  const r = await request(new URL(path.slice(1), server.url), { method: method as 'GET', headers, body });
  return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
};

/** Runs `fn` over `items`, at most `limit` at a time. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

/** XML character data back to text (the five entities and numeric references). */
function xmlUnescape(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e.toLowerCase()]!;
  });
}

/** The `<response>` elements of a multistatus body: href text and getcontentlength text, prefix-agnostic. */
function responsesOf(xml: string): { href: string; length: string | undefined }[] {
  return [...xml.matchAll(/<(?:[\w-]+:)?response\b[^>]*>([\s\S]*?)<\/(?:[\w-]+:)?response>/g)].map((m) => {
    const inner = m[1]!;
    const href = /<(?:[\w-]+:)?href\b[^>]*>([^<]*)<\/(?:[\w-]+:)?href>/.exec(inner)?.[1];
    const len = /<(?:[\w-]+:)?getcontentlength\b[^>]*>([^<]*)<\/(?:[\w-]+:)?getcontentlength>/.exec(inner)?.[1];
    return { href: xmlUnescape(href ?? ''), length: len };
  });
}

/**
 * The member name of a gateway href directly under DIR, or null for anything else (the collection itself).
 * Segments are compared decoded, so the test does not depend on the hex case davgate writes.
 */
function memberName(href: string): string | null {
  const path = new URL(href, server.url).pathname;
  const segs = path.split('/').slice(1);
  if (segs.length !== 2 || decodeURIComponent(segs[0]!) !== DIR || segs[1] === '') return null;
  return decodeURIComponent(segs[1]!);
}

t.test('placement: the heaviest account holds more than one 750-entry page', async (t) => {
  t.equal(OWNED.reduce((a, b) => a + b, 0), FILES);
  t.ok(Math.max(...OWNED) > DEFAULT_PAGE_SIZE, `owners: ${OWNED.join(', ')} (heaviest > ${DEFAULT_PAGE_SIZE})`);
  t.ok(NAMES.filter((n) => !/^f\d{4}\.txt$/.test(n)).length >= 50, 'dozens of hostile names');
  t.equal(new Set(NAMES).size, FILES, 'names are distinct');
});

t.test(`${FILES} files written through davgate land where HRW says`, async (t) => {
  t.equal((await call('MKCOL', DIR_PATH)).status, 201, 'MKCOL');
  const failures: string[] = [];
  await pool(NAMES, CONCURRENCY, async (name) => {
    const body = contentOf(name);
    const r = await call('PUT', DIR_PATH + encodeURIComponent(name), { 'content-length': String(body.length) }, body);
    if (r.status !== 201) failures.push(`${name}: ${r.status} ${r.text.slice(0, 200)}`);
  });
  t.same(failures, [], 'every PUT answered 201');
  const puts = sims.map((s) => s.counters.byMethod['PUT'] ?? 0);
  t.same(puts, OWNED, 'each account received exactly the PUTs of the files it owns');
  t.same(sims.map((s) => s.counters.throttled), [0, 0, 0], 'no BlockedTemporarily reached any account');
});

t.test('PROPFIND Depth 1: 2,001 responses, each file once, names and lengths right, several pages', async (t) => {
  const before = sims.map((s) => s.counters.byMethod['PROPFIND'] ?? 0);
  const r = await call('PROPFIND', DIR_PATH, { depth: '1' });
  const pages = sims.map((s, i) => (s.counters.byMethod['PROPFIND'] ?? 0) - before[i]!);
  t.equal(r.status, 207);
  const responses = responsesOf(r.text);
  t.equal(responses.length, FILES + 1, 'the collection and every file');
  t.equal(responses.filter((x) => memberName(x.href) === null).length, 1, 'one response is not a member: the collection');
  const self = responses.find((x) => memberName(x.href) === null)!;
  t.equal(decodeURIComponent(new URL(self.href, server.url).pathname), `/${DIR}/`, 'and it is the collection itself');

  const seen = new Map<string, number>();
  const raw: string[] = [];
  for (const x of responses) {
    const name = memberName(x.href);
    if (name === null) continue;
    seen.set(name, (seen.get(name) ?? 0) + 1);
    if (/[ #?]/.test(x.href)) raw.push(x.href);
  }
  t.same(raw, [], 'no href carries a raw space, # or ?');
  t.same([...seen.values()].filter((n) => n !== 1), [], 'no file listed twice');
  t.same([...seen.keys()].sort(), [...NAMES].sort(), 'hrefs decode back to exactly the names written');

  const wrongLength: string[] = [];
  for (const x of responses) {
    const name = memberName(x.href);
    if (name !== null && x.length !== String(contentOf(name).length)) wrongLength.push(`${name}: ${x.length}`);
  }
  t.same(wrongLength, [], 'getcontentlength right for every file');

  // One PROPFIND per page per account: the heavy account served more than one page (paging exercised), and no
  // page was skipped or read twice.
  const heavy = OWNED.indexOf(Math.max(...OWNED));
  t.ok(pages[heavy]! > 1, `the heaviest account (${OWNED[heavy]} files) served ${pages[heavy]} pages`);
  t.same(pages, OWNED.map(pagesFor), `pages per account: ${pages.join(', ')}`);
  t.same(sims.map((s) => s.counters.throttled), [0, 0, 0], 'no BlockedTemporarily reached any account');
});

t.test('the webdav client’s getDirectoryContents returns all 2,000 files', async (t) => {
  const client = createClient(server.url);
  const before = sims.map((s) => s.counters.byMethod['PROPFIND'] ?? 0);
  const list = (await client.getDirectoryContents(`/${DIR}`)) as FileStat[];
  const pages = sims.map((s, i) => (s.counters.byMethod['PROPFIND'] ?? 0) - before[i]!);
  t.equal(list.length, FILES, 'entries');
  t.ok(list.every((e) => e.type === 'file'), 'all files');
  t.same(list.map((e) => e.basename).sort(), [...NAMES].sort(), 'the client sees every name as written');
  const sizes = list.filter((e) => e.size !== contentOf(e.basename).length).map((e) => `${e.basename}: ${e.size}`);
  t.same(sizes, [], 'sizes right');
  t.ok(Math.max(...pages) > 1, `read over several upstream pages (${pages.join(', ')} PROPFINDs)`);
});

t.test('the HTML index of the collection links all 2,000 files', async (t) => {
  const r = await call('GET', DIR_PATH);
  t.equal(r.status, 200);
  t.match(String(r.headers['content-type']), /^text\/html/);
  const hrefs = [...r.text.matchAll(/<a href="([^"]*)"/g)].map((m) => xmlUnescape(m[1]!));
  const members = hrefs.map(memberName).filter((n): n is string => n !== null);
  t.equal(members.length, FILES, `${FILES} member links`);
  t.equal(hrefs.length, FILES + 1, 'plus the parent link only');
  t.same([...members].sort(), [...NAMES].sort(), 'each file linked once, by its name');
});
