// tests/js/prelude_url.js: URL and URLSearchParams, the cases a renderer
// meets (tests/js/diff_corpus.js compares ~1,800 more with Node 20).
globalThis.render = function () {
  const fails = [];
  const eq = (a, b, what) => {
    const x = JSON.stringify(a), y = JSON.stringify(b);
    if (x !== y) fails.push(what + ': got ' + x + ', want ' + y);
  };
  const u = new URL('/a/../b/c?x=1&y=%20#top', 'https://User:Pw@EXAMPLE.com:443/base/');
  eq([u.href, u.origin, u.host, u.pathname, u.search, u.hash, u.username],
     ['https://User:Pw@example.com/b/c?x=1&y=%20#top', 'https://example.com', 'example.com', '/b/c', '?x=1&y=%20', '#top', 'User'], 'resolve');
  eq(u.searchParams.get('y'), ' ', 'searchParams decode');
  u.searchParams.set('z', 'a b&c');
  eq(u.search, '?x=1&y=+&z=a+b%26c', 'searchParams write back');
  u.pathname = '/\u00e9 x';
  u.port = '8443';
  u.hash = '';
  eq(u.href, 'https://User:Pw@example.com:8443/%C3%A9%20x?x=1&y=+&z=a+b%26c', 'setters');
  eq(new URL('http://[0:0::1]:80/').host, '[::1]', 'IPv6 compressed, default port dropped');
  eq(new URL('http://0x7f.1/').hostname, '127.0.0.1', 'IPv4 hex');
  eq(new URL('http://0177.0.0.1/').hostname, '127.0.0.1', 'IPv4 octal');
  eq(new URL('http://M\u00fcnchen.de/').hostname, 'xn--mnchen-3ya.de', 'IDNA');
  eq(new URL('http://\uff25\uff38.com/').hostname, 'ex.com', 'IDNA fullwidth');
  eq(new URL('file:///C:/x/../y').href, 'file:///C:/y', 'file drive letter');
  eq(new URL('blob:https://a.com/uuid').origin, 'https://a.com', 'blob origin');
  eq(new URL('\\\\x\\y', 'http://h/').href, 'http://x/y', 'backslashes');
  let err = null;
  try { new URL('http://exa mple.com'); } catch (e) { err = [e.name, e.code]; }
  eq(err, ['TypeError', 'ERR_INVALID_URL'], 'invalid');
  eq([URL.canParse('x'), URL.canParse('x', 'http://h/')], [false, true], 'canParse');
  const p = new URLSearchParams({ b: '2', a: '1' });
  p.append('a', '0');
  p.sort();
  eq([p.toString(), p.size, [...p.keys()]], ['a=1&a=0&b=2', 3, ['a', 'a', 'b']], 'URLSearchParams');
  eq(JSON.stringify({ u: new URL('http://h') }), '{"u":"http://h/"}', 'toJSON');
  const d = Object.getOwnPropertyDescriptor(globalThis, 'URL');
  eq([d.writable, d.enumerable, d.configurable], [true, false, true], 'global descriptor');
  eq(Object.prototype.toString.call(u), '[object URL]', 'toStringTag');
  return fails.length ? fails.join('\n') : 'ok';
};
