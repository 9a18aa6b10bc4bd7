import t from 'tap';
import { checkBearer } from '../../src/auth.js';

const TOKEN = 'b7e1c0ffee-0123456789abcdef';

t.test('the configured token is accepted', async (t) => {
  t.equal(checkBearer(TOKEN, `Bearer ${TOKEN}`), true);
  t.equal(checkBearer(TOKEN, `bearer ${TOKEN}`), true, 'scheme is case-insensitive (RFC 9110 §11.1)');
});

t.test('anything else is refused', async (t) => {
  for (const [name, header] of [
    ['absent', undefined],
    ['empty', ''],
    ['no scheme', TOKEN],
    ['basic scheme', `Basic ${TOKEN}`],
    ['prefix of the token', `Bearer ${TOKEN.slice(0, -1)}`],
    ['token plus suffix', `Bearer ${TOKEN}x`],
    ['other token', 'Bearer nope'],
    ['scheme only', 'Bearer'],
    ['two tokens', `Bearer ${TOKEN} ${TOKEN}`],
  ] as const) {
    t.equal(checkBearer(TOKEN, header), false, name);
  }
});

t.test('no configured token means no access, whatever is sent', async (t) => {
  t.equal(checkBearer(undefined, 'Bearer '), false);
  t.equal(checkBearer(undefined, 'Bearer undefined'), false);
  t.equal(checkBearer('', 'Bearer '), false);
});
