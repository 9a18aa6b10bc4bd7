/**
 * Runs litmus 0.13 (Debian package `litmus`) and parses its per-group summaries.
 *
 * litmus writes `debug.log` and `child.log` into its working directory, so each run gets a temp dir.
 * Output uses `\r` to redraw a test's line, so we split on both `\r` and `\n`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exited, stopChild } from './process.js';

export const LITMUS_BIN = process.env['DG_E2E_LITMUS'] ?? '/usr/bin/litmus';

export interface LitmusGroupSummary {
  /** Tests run, including init/begin/finish bookkeeping steps. */
  run: number;
  passed: number;
  failed: number;
  skipped: number;
  warnings: number;
  /** `name: reason` of each failed test, in order. */
  failures: string[];
}

export interface LitmusResult {
  /** Keyed by group name (`basic`, `copymove`, …); a group that never printed a summary is absent. */
  groups: Record<string, LitmusGroupSummary>;
  exitCode: number | null;
  output: string;
}

/** Parses litmus stdout. Pure, so it is easy to check against captured output. */
export function parseLitmus(output: string): Record<string, LitmusGroupSummary> {
  const groups: Record<string, LitmusGroupSummary> = {};
  let failures: string[] = [];
  let last: LitmusGroupSummary | undefined;
  let test = '?';
  for (const line of output.split(/\r\n|\r|\n/)) {
    let m: RegExpExecArray | null;
    // A test's name is on its ` N. name.....` line; after a WARNING the verdict comes on a continuation
    // line (`    ..... FAIL (reason)`) without the name, so remember the last name seen.
    if ((m = /^\s*\d+\.\s+([A-Za-z0-9_]+)/.exec(line))) test = m[1] as string;
    if ((m = /^-> running `([^']+)':/.exec(line))) {
      failures = [];
      last = undefined;
    } else if ((m = /\.\s+FAIL(?:ED)?\b\s*(.*)$/.exec(line))) {
      // litmus sometimes prints a freed string (seen in locks/unmapped_lock): keep messages printable.
      failures.push(`${test}: ${m[1] ?? ''}`.replace(/[^\x20-\x7e]/g, '?').trim());
    } else if ((m = /^<- summary for `([^']+)': of (\d+) tests run: (\d+) passed, (\d+) failed/.exec(line))) {
      last = { run: Number(m[2]), passed: Number(m[3]), failed: Number(m[4]), skipped: 0, warnings: 0, failures };
      groups[m[1] as string] = last;
    } else if (last && (m = /^-> (\d+) tests? (?:was|were) skipped/.exec(line))) {
      last.skipped = Number(m[1]);
    } else if (last && (m = /^-> (\d+) warnings? (?:was|were) issued/.exec(line))) {
      last.warnings = Number(m[1]);
    }
  }
  return groups;
}

/** One line per group, for t.comment. */
export function formatLitmus(label: string, groups: Record<string, LitmusGroupSummary>): string {
  const lines = Object.entries(groups).map(
    ([g, s]) =>
      `  ${g.padEnd(9)} ${s.passed}/${s.run} passed, ${s.failed} failed, ${s.skipped} skipped, ${s.warnings} warnings` +
      (s.failures.length ? `\n    FAIL ${s.failures.join('\n    FAIL ')}` : ''),
  );
  return `litmus ${label}:\n${lines.join('\n')}`;
}

/**
 * Runs `litmus <url><group>/ user pass` once per group (`TESTS=<group>`): litmus stops at the first group
 * with a failure, so one run for all groups would hide every later group's results behind, say, a basic
 * failure.
 * Never throws on test failures, only on timeout. `exitCode` is the first non-zero one, else 0.
 */
export async function runLitmus(opts: {
  url: string;
  username: string;
  password: string;
  groups: readonly string[];
  timeoutMs?: number;
}): Promise<LitmusResult> {
  const result: LitmusResult = { groups: {}, exitCode: 0, output: '' };
  const authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
  for (const group of opts.groups) {
    // Each group also gets its own parent collection: litmus works in `<url>litmus/` and a group that fails
    // to clean it up would otherwise make every later group fail at `begin` (MKCOL on an existing path).
    const base = `${opts.url}${group}/`;
    const mkcol = await fetch(base, { method: 'MKCOL', headers: { authorization } });
    await mkcol.arrayBuffer();
    if (mkcol.status !== 201) {
      result.groups[group] = { run: 0, passed: 0, failed: 1, skipped: 0, warnings: 0, failures: [`MKCOL ${base}: ${mkcol.status}`] };
      result.exitCode ||= 1;
      continue;
    }
    const one = await runLitmusOnce({ ...opts, url: base, group });
    Object.assign(result.groups, parseLitmus(one.output));
    result.output += one.output;
    if (result.exitCode === 0) result.exitCode = one.exitCode;
  }
  return result;
}

async function runLitmusOnce(opts: {
  url: string;
  username: string;
  password: string;
  group: string;
  timeoutMs?: number;
}): Promise<{ exitCode: number | null; output: string }> {
  const cwd = mkdtempSync(join(tmpdir(), 'davgate-e2e-litmus-'));
  try {
    const child = spawn(LITMUS_BIN, [opts.url, opts.username, opts.password], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LANG: 'C', TESTS: opts.group },
    });
    let output = '';
    child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    const timeoutMs = opts.timeoutMs ?? 300_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void stopChild(child, 'SIGTERM', 2_000);
    }, timeoutMs);
    await exited(child);
    clearTimeout(timer);
    if (timedOut) throw new Error(`litmus ${opts.group} timed out after ${timeoutMs} ms; output so far:\n${output}`);
    return { exitCode: child.exitCode, output };
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

/** The verdict of one litmus test, as {@link parseLitmusTests} reads it. */
export interface LitmusTestResult {
  /** The group (`props`, …) from the `-> running` line. */
  group: string;
  /** The test's number within its group (litmus repeats names, e.g. `propget` runs 9 times in props). */
  n: number;
  /** The test's name, e.g. `propget`. */
  name: string;
  verdict: 'pass' | 'FAIL' | 'SKIPPED';
  /** The text after the verdict without its parentheses, e.g. `No value given for property {…}prop9`; '' if none. */
  message: string;
}

/**
 * Parses litmus stdout into one verdict per test, in order. Pure. Unlike {@link parseLitmus}'s summaries, each
 * result carries the test's number, which tells apart the runs of a repeated test (`props` runs `propget`
 * after each property-changing step), so an allow-list can name exactly one of them.
 */
export function parseLitmusTests(output: string): LitmusTestResult[] {
  const out: LitmusTestResult[] = [];
  let group = '?';
  let n = -1;
  let name = '?';
  for (const line of output.split(/\r\n|\r|\n/)) {
    let m: RegExpExecArray | null;
    if ((m = /^-> running `([^']+)':/.exec(line))) {
      group = m[1] as string;
      continue;
    }
    // ` N. name.....` opens a test; after a WARNING its verdict comes on a continuation line (`    ..... FAIL`).
    if ((m = /^\s*(\d+)\.\s+([A-Za-z0-9_]+)/.exec(line))) {
      n = Number(m[1]);
      name = m[2] as string;
    }
    if ((m = /\.\s+(pass|FAIL(?:ED)?|SKIPPED)\b\s*(.*)$/.exec(line))) {
      const verdict = m[1] === 'pass' ? 'pass' : m[1] === 'SKIPPED' ? 'SKIPPED' : 'FAIL';
      const message = (m[2] ?? '').replace(/^\((.*)\)$/s, '$1').replace(/[^\x20-\x7e]/g, '?').trim();
      out.push({ group, n, name, verdict, message });
    }
  }
  return out;
}
