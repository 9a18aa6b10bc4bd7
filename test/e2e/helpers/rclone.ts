/**
 * Runs rclone (Debian package `rclone`, 1.60) against a WebDAV endpoint configured purely through
 * environment variables (remote name `dg`), so no rclone.conf is read or written.
 */
import { execFileSync, spawn } from 'node:child_process';
import { exited, stopChild } from './process.js';

export const RCLONE_BIN = process.env['DG_E2E_RCLONE'] ?? '/usr/bin/rclone';

export interface RcloneResult {
  exitCode: number | null;
  /** rclone logs (NOTICE/ERROR lines) go to stderr. */
  stderr: string;
  stdout: string;
  ms: number;
  /** Number of `ERROR :` log lines seen. */
  errors: number;
  /** Set when the helper stopped rclone early (too many errors, timeout). */
  aborted: string | undefined;
}

/** Env for remote `dg:` pointing at `url`. `vendor=other` is plain RFC 4918: PROPFIND listings, no mtime. */
export function rcloneEnv(opts: { url: string; username: string; password: string; configPath: string }): NodeJS.ProcessEnv {
  const obscured = execFileSync(RCLONE_BIN, ['obscure', opts.password], { encoding: 'utf8' }).trim();
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: process.env['HOME'] ?? '/tmp',
    LANG: 'C.UTF-8',
    // A config file that does not exist: rclone logs a notice and uses only the env remotes.
    RCLONE_CONFIG: opts.configPath,
    RCLONE_CONFIG_DG_TYPE: 'webdav',
    RCLONE_CONFIG_DG_URL: opts.url,
    RCLONE_CONFIG_DG_VENDOR: 'other',
    RCLONE_CONFIG_DG_USER: opts.username,
    RCLONE_CONFIG_DG_PASS: obscured,
  };
}

/**
 * Runs rclone with `args`; resolves with its exit code and output (never rejects on a non-zero exit).
 *
 * rclone 1.60 paces WebDAV calls and backs the pacer off (up to 2 s per call) after each error, so a
 * gateway that fails every request makes a 3,000-file copy take hours instead of failing. Once `maxErrors`
 * `ERROR :` lines have been logged the run is stopped (SIGTERM to its PID) and `aborted` says why.
 */
export async function rclone(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  opts: { timeoutMs?: number; maxErrors?: number } = {},
): Promise<RcloneResult> {
  const started = Date.now();
  const child = spawn(RCLONE_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let errors = 0;
  let aborted: string | undefined;
  const abort = (why: string): void => {
    if (aborted !== undefined) return;
    aborted = why;
    void stopChild(child, 'SIGTERM', 5_000);
  };
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => {
    const text = c.toString();
    stderr += text;
    if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
    errors += text.match(/ ERROR : /g)?.length ?? 0;
    if (errors >= (opts.maxErrors ?? 25)) abort(`stopped after ${errors} ERROR lines`);
  });
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const timer = setTimeout(() => abort(`stopped after ${timeoutMs} ms`), timeoutMs);
  await exited(child);
  clearTimeout(timer);
  return { exitCode: child.exitCode, stdout, stderr, ms: Date.now() - started, errors, aborted };
}
