/**
 * Regression: litmus through davgate failed every group at random (`invalid option -- 'T'`) because the e2e rig's
 * random password, passed as a command-line argument, started with `-` (base64url does so once in 64 draws).
 */
import t from 'tap';
import { cliSafePassword } from '../e2e/helpers/secret.js';

t.test('regression: e2e passwords never start with a dash (litmus read one as an option)', async (t) => {
  let dash = 0;
  for (let i = 0; i < 5000; i++) if (cliSafePassword().startsWith('-')) dash++;
  t.equal(dash, 0, 'no password of 5,000 starts with -');
  t.match(cliSafePassword(), /^[A-Za-z][A-Za-z0-9_-]{16}$/, 'a letter, then 16 base64url characters');
});
