import t from 'tap';
import { parseXml } from '../../src/dav/xml.js';
import { parseMultistatus } from '../../src/dav/multistatus.js';

// Regression guard: entities must never be expanded (billion laughs, XXE). Any DOCTYPE is refused.
const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&lol9;</D:displayname></D:prop></D:propfind>`;

const xxe = `<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<D:multistatus xmlns:D="DAV:"><D:response><D:href>&x;</D:href></D:response></D:multistatus>`;

const externalDtd = '<!DOCTYPE D:multistatus SYSTEM "http://evil.example/x.dtd"><D:multistatus xmlns:D="DAV:"/>';

t.test('billion laughs is refused', async (t) => {
  t.throws(() => parseXml(billionLaughs), { code: 'DAVGATE_BAD_XML', message: 'invalid XML body: DOCTYPE not allowed' });
});

t.test('external entity is refused', async (t) => {
  t.throws(() => parseMultistatus(xxe), { code: 'DAVGATE_BAD_XML', message: /DOCTYPE not allowed/ });
});

t.test('external DTD reference is refused', async (t) => {
  t.throws(() => parseXml(externalDtd), { code: 'DAVGATE_BAD_XML', message: /DOCTYPE not allowed/ });
});

t.test('an undeclared entity without DOCTYPE is malformed', async (t) => {
  t.throws(() => parseXml('<a>&lol;</a>'), { code: 'DAVGATE_BAD_XML' });
});
