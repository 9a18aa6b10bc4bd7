/**
 * The litmus summary parser, against captured litmus 0.13 output (fixtures/), so the e2e assertions that
 * depend on it cannot silently pass on output they failed to parse.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseLitmus } from './helpers/litmus.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

t.test('all-pass run against Apache 2.4 (all five groups in one litmus run)', async (t) => {
  const g = parseLitmus(fixture('litmus-0.13-apache-2.4-all-pass.txt'));
  t.same(Object.keys(g), ['basic', 'copymove', 'props', 'locks', 'http']);
  t.match(g['basic'], { run: 16, passed: 16, failed: 0, warnings: 0, failures: [] });
  t.match(g['copymove'], { run: 13, passed: 13, failed: 0 });
  t.match(g['props'], { run: 30, passed: 30, failed: 0 });
  t.match(g['locks'], { run: 41, passed: 41, failed: 0, warnings: 2 });
  t.match(g['http'], { run: 4, passed: 4, failed: 0 });
});

t.test('failures, a failure after a warning, skips and warnings', async (t) => {
  const g = parseLitmus(fixture('litmus-0.13-failures.txt'));
  t.same(g['basic'], {
    run: 16,
    passed: 14,
    failed: 2,
    skipped: 1,
    warnings: 1,
    failures: ['put_get: (PUT of 40 bytes failed: 500 Internal)', 'cond_put_corrupt_token: (boom)'],
  });
});
