// shim/js/lazy/encoding_streams.js: TextEncoderStream and TextDecoderStream
// (Encoding Standard) over the shim's TextEncoder and TextDecoder (UTF-8).

const { TransformStream } = $.loadStreams();
const ENC = new WeakMap(), DEC = new WeakMap();
const encState = (o) => { const s = ENC.get(o); if (!s) throw new TypeError('Illegal invocation'); return s; };
const decState = (o) => { const s = DEC.get(o); if (!s) throw new TypeError('Illegal invocation'); return s; };

class TextEncoderStream {
  constructor() {
    const encoder = new TextEncoder();
    let pending = null;  // a high surrogate waiting for its pair
    const transform = new TransformStream({
      transform(chunk, controller) {
        let s = String(chunk);
        if (pending !== null) { s = pending + s; pending = null; }
        if (s.length === 0) return;
        const last = s.charCodeAt(s.length - 1);
        if (last >= 0xd800 && last <= 0xdbff) { pending = s[s.length - 1]; s = s.slice(0, -1); }
        if (s.length > 0) controller.enqueue(encoder.encode(s));
      },
      flush(controller) {
        if (pending !== null) controller.enqueue(new Uint8Array([0xef, 0xbf, 0xbd]));
      },
    });
    ENC.set(this, { transform });
  }
  get encoding() { encState(this); return 'utf-8'; }
  get readable() { return encState(this).transform.readable; }
  get writable() { return encState(this).transform.writable; }
}

class TextDecoderStream {
  constructor(label = 'utf-8', options = undefined) {
    const decoder = new TextDecoder(label, options == null ? {} : options);
    const transform = new TransformStream({
      transform(chunk, controller) {
        if (!(chunk instanceof ArrayBuffer) && !ArrayBuffer.isView(chunk) &&
            !(typeof SharedArrayBuffer === 'function' && chunk instanceof SharedArrayBuffer))
          throw new TypeError("Failed to execute 'transform' on 'TextDecoderStream': The provided value is not of type '(ArrayBuffer or ArrayBufferView)'.");
        const s = decoder.decode(chunk, { stream: true });
        if (s !== '') controller.enqueue(s);
      },
      flush(controller) {
        const s = decoder.decode();
        if (s !== '') controller.enqueue(s);
      },
    });
    DEC.set(this, { decoder, transform });
  }
  get encoding() { return decState(this).decoder.encoding; }
  get fatal() { return decState(this).decoder.fatal; }
  get ignoreBOM() { return decState(this).decoder.ignoreBOM; }
  get readable() { return decState(this).transform.readable; }
  get writable() { return decState(this).transform.writable; }
}
for (const cls of [TextEncoderStream, TextDecoderStream]) {
  for (const k of Object.getOwnPropertyNames(cls.prototype))
    if (k !== 'constructor') Object.defineProperty(cls.prototype, k, { enumerable: true });
  $.tag(cls);
}
return { TextEncoderStream, TextDecoderStream };
