/**
 * rclone copies a real tree (Debian's /usr/share/doc plus hostile names and awkward sizes) into davgate
 * over three Apaches, verifies every byte with `rclone check --download`, and checks that placement spread
 * the files evenly: each upstream holds total/3 ± 10 %.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { rclone, rcloneEnv } from './helpers/rclone.js';
import { startTarget } from './helpers/target.js';
import { buildTree, countFiles } from './helpers/tree.js';

const REMOTE_DIR = 'e2e-tree';
const TOLERANCE = 0.1;
/**
 * rclone 1.60's WebDAV backend paces every API call at >= 10 ms (a fixed pacer minimum, tunable only from
 * rclone 1.62 on) and makes about three calls per uploaded file (MKCOL parent, PUT, PROPFIND), so upload time
 * is ~30 ms per file whatever the server does: the full /usr/share/doc (~4,200 files) takes ~2.5 min to copy
 * and 1 min to check even directly against Apache. 3,000 files keep the test near 2 minutes while still
 * giving placement a sample where ±10 % is about 4 standard deviations of a fair 1-in-3 split.
 */
const MAX_REAL_FILES = Number(process.env['DG_E2E_RCLONE_MAX_FILES'] ?? 3_000);

t.test('rclone copy + check --download through davgate', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'davgate-e2e-rclone-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const src = join(work, 'src');
  let t0 = Date.now();
  const tree = buildTree(src, { minFiles: 2_000, maxRealFiles: MAX_REAL_FILES });
  t.comment(`source tree: ${tree.files} files, ${tree.dirs} dirs, ${(tree.bytes / 1048576).toFixed(1)} MiB (built in ${Date.now() - t0} ms)`);
  t.ok(tree.files >= 2_000, 'at least 2,000 files');

  const target = await startTarget(t, { upstreams: 3 });
  const env = rcloneEnv({ url: target.url, username: target.username, password: target.password, configPath: join(work, 'none.conf') });
  // --retries 1: a failed transfer must fail the test, not be retried into success by a second pass.
  const common = ['--transfers', '8', '--checkers', '8', '--retries', '1', '--low-level-retries', '2', '--log-level', 'NOTICE', '--stats', '0'];

  t0 = Date.now();
  // Budgets are ~3x what a healthy run takes on the 2-core reference machine (copy ~95 s, check ~40 s).
  const copy = await rclone(['copy', src, `dg:${REMOTE_DIR}`, ...common], env, { timeoutMs: 360_000 });
  t.comment(`rclone copy: exit ${copy.exitCode} in ${copy.ms} ms, ${copy.errors} errors${copy.aborted ? `, ${copy.aborted}` : ''}`);
  t.equal(copy.exitCode, 0, 'rclone copy exits 0', { stderr: copy.stderr.slice(-8_000) });
  if (copy.aborted) {
    t.fail(`rclone copy ${copy.aborted}; not checking`);
    return;
  }

  const check = await rclone(['check', '--download', src, `dg:${REMOTE_DIR}`, ...common], env, { timeoutMs: 240_000 });
  t.comment(`rclone check --download: exit ${check.exitCode} in ${check.ms} ms${check.aborted ? `, ${check.aborted}` : ''}`);
  const differences = /(\d+) differences found/.exec(check.stderr);
  const matching = /(\d+) matching files/.exec(check.stderr);
  t.equal(check.exitCode, 0, 'rclone check exits 0', { stderr: check.stderr.slice(-8_000) });
  t.equal(differences ? Number(differences[1]) : -1, 0, '0 differences', { stderr: check.stderr.slice(-8_000) });
  t.equal(matching ? Number(matching[1]) : -1, tree.files, 'every file matches');

  if (target.kind === 'direct') {
    // Still proves the counting below: every file on disk, none of mod_dav_fs's .DAV metadata.
    t.equal(countFiles(join(target.upstreams[0]!.dataDir, REMOTE_DIR)), tree.files, 'Apache data dir holds every file');
    t.comment('DG_E2E_DIRECT=1: one Apache, no placement to check');
    return;
  }
  const counts = target.upstreams.map((u) => ({ id: u.id, files: countFiles(join(u.dataDir, REMOTE_DIR)) }));
  const total = counts.reduce((s, c) => s + c.files, 0);
  const share = total / counts.length;
  t.comment(`files per upstream: ${counts.map((c) => `${c.id}=${c.files}`).join(' ')} (total ${total}, even share ${share.toFixed(0)})`);
  // Each file is stored once: davgate places files, it does not replicate them.
  t.equal(total, tree.files, 'each file stored on exactly one upstream');
  for (const c of counts) {
    t.ok(
      Math.abs(c.files - share) <= share * TOLERANCE,
      `upstream ${c.id} holds ${c.files}, within ±${TOLERANCE * 100}% of ${share.toFixed(0)}`,
    );
  }
});
