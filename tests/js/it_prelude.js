// tests/js/it_prelude.js: a page rendered through the real binary with the
// JS prelude's APIs, the way a framework's streaming renderer uses them: the
// request URL parsed with URL/URLSearchParams, the html produced as a byte
// stream piped through a TransformStream and decoded with a
// TextDecoderStream. Used by tests/integration/test_prelude.py.
(function () {
  const enc = new TextEncoder();
  async function streamPage(parts) {
    let i = 0;
    const source = new ReadableStream({
      type: 'bytes',
      pull(c) {
        if (i < parts.length) c.enqueue(enc.encode(parts[i++]));
        else c.close();
      },
    }, { highWaterMark: 0 });
    const upper = new TransformStream({
      transform(chunk, c) { c.enqueue(chunk); },
    });
    let html = '';
    const sink = new WritableStream({ write(s) { html += s; } });
    await source.pipeThrough(upper).pipeThrough(new TextDecoderStream()).pipeTo(sink);
    return html;
  }
  globalThis.render = async function (req) {
    const url = new URL(req.url, 'http://' + (req.headers.host || 'localhost'));
    if (url.pathname === '/globals')
      return ['URL', 'ReadableStream', 'AbortController', 'atob', 'TextDecoderStream']
        .map((n) => n + ':' + typeof globalThis[n]).join(',') + ',' + [1, 2, 3].toReversed().join('');
    const name = url.searchParams.get('name') || 'world';
    const ac = new AbortController();
    const esc = (s) => s.replace(/[&<>"]/g, (c) => '&#' + c.charCodeAt(0) + ';');
    const html = await streamPage(['<p>hello, ', esc(name), ' \u2013 ', String(ac.signal.aborted), '</p>']);
    return { html, headers: { 'x-path': url.pathname, 'x-b64': btoa(url.search) } };
  };
})();
