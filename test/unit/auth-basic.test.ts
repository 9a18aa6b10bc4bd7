import bcrypt from 'bcryptjs';
import t from 'tap';
import type { Config } from '../../src/config/schema.js';
import { createBasicAuth, wwwAuthenticate } from '../../src/auth.js';

// Cost 4 keeps the suite fast; production hashes use 12.
const ALICE_PW = 'correct horse: battery staple';
const ZH_PW = '密码-пароль';
const auth: Config['auth'] = {
  mode: 'basic',
  realm: 'davgate',
  users: [
    { username: 'alice', passwordHash: bcrypt.hashSync(ALICE_PW, 4) },
    { username: '张三', passwordHash: bcrypt.hashSync(ZH_PW, 4) },
  ],
};
const basic = (user: string, pw: string): string => `Basic ${Buffer.from(`${user}:${pw}`, 'utf8').toString('base64')}`;

t.test('mode none lets everything through as user null', async (t) => {
  const check = createBasicAuth({ mode: 'none' });
  t.same(await check(undefined), { ok: true, user: null });
  t.same(await check('Basic !!!'), { ok: true, user: null });
});

t.test('valid credentials, including a colon in the password and UTF-8 names', async (t) => {
  const check = createBasicAuth(auth);
  t.same(await check(basic('alice', ALICE_PW)), { ok: true, user: 'alice' });
  t.same(await check(basic('张三', ZH_PW)), { ok: true, user: '张三' });
  t.same(await check(basic('alice', ALICE_PW).replace('Basic', 'bAsIc')), { ok: true, user: 'alice' }, 'scheme is case-insensitive');
});

t.test('wrong, unknown and malformed credentials are refused', async (t) => {
  const check = createBasicAuth(auth);
  for (const [name, header] of [
    ['absent', undefined],
    ['empty', ''],
    ['wrong password', basic('alice', 'nope')],
    ['unknown user', basic('mallory', ALICE_PW)],
    ['other user\'s password', basic('张三', ALICE_PW)],
    ['empty password', basic('alice', '')],
    ['no colon', `Basic ${Buffer.from('alice').toString('base64')}`],
    ['bearer scheme', 'Bearer abc'],
    ['no credentials', 'Basic'],
    ['not base64', 'Basic !!!!'],
    ['extra parameter', `${basic('alice', ALICE_PW)}, realm="x"`],
  ] as const) {
    t.same(await check(header), { ok: false }, name);
  }
});

t.test('successes are cached, failures are not, unknown users cost one compare', async (t) => {
  let compares = 0;
  const hashesCompared: string[] = [];
  const counting = {
    ...bcrypt,
    compare: async (pw: string, hash: string) => {
      compares++;
      hashesCompared.push(hash);
      return bcrypt.compare(pw, hash);
    },
  };
  const { createBasicAuth: create } = await t.mockImport<typeof import('../../src/auth.js')>('../../src/auth.js', {
    bcryptjs: { default: counting, ...counting },
  });
  const check = create(auth);

  t.same(await check(basic('alice', ALICE_PW)), { ok: true, user: 'alice' });
  t.same(await check(basic('alice', ALICE_PW)), { ok: true, user: 'alice' });
  t.equal(compares, 1, 'second success answered from the cache');

  await check(basic('alice', 'wrong'));
  await check(basic('alice', 'wrong'));
  t.equal(compares, 3, 'failures are checked every time');

  await check(basic('mallory', 'x'));
  t.equal(compares, 4, 'an unknown user still costs exactly one compare');
  t.match(hashesCompared[3], /^\$2[aby]\$04\$/, 'against a dummy hash of the users\' cost');

  const [a, b] = await Promise.all([check(basic('张三', ZH_PW)), check(basic('张三', ZH_PW))]);
  t.same([a, b], [{ ok: true, user: '张三' }, { ok: true, user: '张三' }]);
  t.equal(compares, 5, 'concurrent checks of one header share one compare');
});

t.test('wwwAuthenticate quotes the realm', async (t) => {
  t.equal(wwwAuthenticate('davgate'), 'Basic realm="davgate", charset="UTF-8"');
  t.equal(wwwAuthenticate('my "home" \\ files'), 'Basic realm="my \\"home\\" \\\\ files", charset="UTF-8"');
  t.equal(wwwAuthenticate('a\r\nSet-Cookie: x'), 'Basic realm="aSet-Cookie: x", charset="UTF-8"', 'no header splitting');
});
