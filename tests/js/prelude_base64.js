// tests/js/prelude_base64.js: atob and btoa (forgiving-base64).
globalThis.render = function () {
  const fails = [];
  const eq = (a, b, what) => {
    const x = JSON.stringify(a), y = JSON.stringify(b);
    if (x !== y) fails.push(what + ': got ' + x + ', want ' + y);
  };
  const err = (f) => { try { f(); return 'no error'; } catch (e) { return [e.name, e.code, e instanceof DOMException]; } };
  eq([btoa(''), btoa('a'), btoa('ab'), btoa('abc'), btoa('\u00ff\u00fe')], ['', 'YQ==', 'YWI=', 'YWJj', '//4='], 'btoa');
  eq([atob('YQ'), atob('YQ=='), atob(' Y W\nJ j\t'), atob('//4=')], ['a', 'a', 'abc', '\u00ff\u00fe'], 'atob');
  eq(err(() => atob('YQ=')), ['InvalidCharacterError', 5, true], 'one = of two');
  eq(err(() => atob('Y')), ['InvalidCharacterError', 5, true], 'length % 4 == 1');
  eq(err(() => atob('Y-Q=')), ['InvalidCharacterError', 5, true], 'url-safe alphabet');
  eq(err(() => btoa('\u0100')), ['InvalidCharacterError', 5, true], 'btoa over latin1');
  eq(atob(null), atob('null'), 'null is the string');
  let s = '';
  for (let i = 0; i < 256; i++) s += String.fromCharCode(i);
  eq(atob(btoa(s)) === s, true, 'round trip of every byte');
  eq([Object.getOwnPropertyDescriptor(globalThis, 'atob').enumerable, atob.length, btoa.name], [false, 1, 'btoa'], 'attributes');
  return fails.length ? fails.join('\n') : 'ok';
};
