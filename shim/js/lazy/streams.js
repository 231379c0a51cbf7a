// shim/js/lazy/streams.js: WHATWG Streams, after the standard's algorithms
// (and its reference implementation's promise timing): ReadableStream
// (default and byte sources, default and BYOB readers, tee, pipeTo,
// pipeThrough, async iteration, ReadableStream.from), WritableStream,
// TransformStream, the two queuing strategies. Differences, all documented
// in README "JavaScript environment": buffers handed to a byte stream are
// not detached (V8 10.2 has no ArrayBuffer transfer).

const { AbortController } = $.loadEvents();
const resolved = (v) => Promise.resolve(v);
const rejected = (e) => Promise.reject(e);
const newPromise = () => $.deferred();
const setHandled = (p) => { p.then(undefined, () => {}); return p; };
const uponPromise = (p, onF, onR) => { p.then(onF, onR).then(undefined, rethrowLater); };
const rethrowLater = (e) => { queueMicrotask(() => { throw e; }); };
const transformPromise = (p, onF, onR) => p.then(onF, onR);
function promiseCall(fn, thisArg, args) {
  try { return resolved(Reflect.apply(fn, thisArg, args)); } catch (e) { return rejected(e); }
}
function getMethod(obj, name, what) {
  const m = obj[name];
  if (m === undefined || m === null) return undefined;
  if (typeof m !== 'function') throw new TypeError(what + '.' + name + ' is not a function');
  return m;
}
function extractHighWaterMark(strategy, def) {
  const h = strategy == null ? undefined : strategy.highWaterMark;
  if (h === undefined) return def;
  const n = Number(h);
  if (Number.isNaN(n) || n < 0) throw new RangeError('Invalid highWaterMark');
  return n;
}
function extractSizeAlgorithm(strategy) {
  const size = strategy == null ? undefined : strategy.size;
  if (size === undefined) return () => 1;
  if (typeof size !== 'function') throw new TypeError('The QueuingStrategy.size property must be a function');
  return (chunk) => size(chunk);
}
const isNonNegNumber = (v) => typeof v === 'number' && !Number.isNaN(v) && v >= 0;
// queue-with-sizes
function dequeueValue(c) {
  const pair = c._queue.shift();
  c._queueTotalSize -= pair.size;
  if (c._queueTotalSize < 0) c._queueTotalSize = 0;
  return pair.value;
}
function enqueueValueWithSize(c, value, size) {
  if (!isNonNegNumber(size) || size === Infinity) throw new RangeError('Size must be a finite, non-NaN, non-negative number.');
  c._queue.push({ value, size });
  c._queueTotalSize += size;
}
const peekQueueValue = (c) => c._queue[0].value;
function resetQueue(c) { c._queue = []; c._queueTotalSize = 0; }

// The internal slots live on non-enumerable, prelude-private symbols.
const K = (n) => Symbol(n);
const $state = K('state'), $reader = K('reader'), $storedError = K('storedError'),
  $disturbed = K('disturbed'), $controller = K('controller'), $writer = K('writer');
const slot = (o, s, v) => Object.defineProperty(o, s, { value: v, writable: true, enumerable: false, configurable: false });

// =====================================================================
// ReadableStream
const RS_BRAND = new WeakSet(), RSDR_BRAND = new WeakSet(), RSBR_BRAND = new WeakSet(),
  RSDC_BRAND = new WeakSet(), RBSC_BRAND = new WeakSet(), BYOBREQ_BRAND = new WeakSet(),
  WS_BRAND = new WeakSet(), WSW_BRAND = new WeakSet(), WSDC_BRAND = new WeakSet(),
  TS_BRAND = new WeakSet(), TSDC_BRAND = new WeakSet();
const check = (set, o, name) => { if (!set.has(o)) throw new TypeError("Illegal invocation: 'this' is not a " + name); };
const isRS = (o) => RS_BRAND.has(o);
const isWS = (o) => WS_BRAND.has(o);
let constructing = false;
const illegal = () => { if (!constructing) throw new TypeError('Illegal constructor'); };
function make(cls) { constructing = true; try { return new cls(); } finally { constructing = false; } }

class ReadableStream {
  constructor(underlyingSource = undefined, strategy = undefined) {
    if (underlyingSource === null) throw new TypeError('underlyingSource cannot be null');
    const src = underlyingSource === undefined ? {} : underlyingSource;
    if (!$.isObject(src)) throw new TypeError('underlyingSource must be an object');
    const st = strategy === undefined ? {} : strategy;
    initRS(this);
    const type = src.type;
    if (type !== undefined && String(type) !== 'bytes')
      throw new TypeError("Failed to construct 'ReadableStream': The provided value '" + type + "' is not a valid enum value of type ReadableStreamType.");
    if (type !== undefined) {
      if (st.size !== undefined) throw new RangeError('The strategy for a byte stream cannot have a size function');
      const hwm = extractHighWaterMark(st, 0);
      setUpRBSCFromSource(this, src, hwm);
    } else {
      const size = extractSizeAlgorithm(st);
      const hwm = extractHighWaterMark(st, 1);
      setUpRSDCFromSource(this, src, hwm, size);
    }
  }
  get locked() { check(RS_BRAND, this, 'ReadableStream'); return isRSLocked(this); }
  cancel(reason = undefined) {
    if (!isRS(this)) return rejected(new TypeError("Illegal invocation: 'this' is not a ReadableStream"));
    if (isRSLocked(this)) return rejected(new TypeError('Cannot cancel a stream that already has a reader'));
    return rsCancel(this, reason);
  }
  getReader(options = undefined) {
    check(RS_BRAND, this, 'ReadableStream');
    const mode = options == null ? undefined : options.mode;
    if (mode === undefined) return acquireDefaultReader(this);
    if (String(mode) !== 'byob')
      throw new TypeError("Failed to execute 'getReader' on 'ReadableStream': The provided value '" + mode + "' is not a valid enum value of type ReadableStreamReaderMode.");
    return acquireBYOBReader(this);
  }
  pipeThrough(transform, options = undefined) {
    check(RS_BRAND, this, 'ReadableStream');
    if (!$.isObject(transform)) throw new TypeError('transform must be an object');
    const { readable, writable } = transform;
    if (!isRS(readable)) throw new TypeError('transform.readable is not a ReadableStream');
    if (!isWS(writable)) throw new TypeError('transform.writable is not a WritableStream');
    const o = pipeOptions(options);
    if (isRSLocked(this)) throw new TypeError('Cannot pipe a locked stream');
    if (isWSLocked(writable)) throw new TypeError('Cannot pipe to a locked stream');
    setHandled(rsPipeTo(this, writable, o.preventClose, o.preventAbort, o.preventCancel, o.signal));
    return readable;
  }
  pipeTo(destination, options = undefined) {
    if (!isRS(this)) return rejected(new TypeError("Illegal invocation: 'this' is not a ReadableStream"));
    if (!isWS(destination)) return rejected(new TypeError("Failed to execute 'pipeTo' on 'ReadableStream': parameter 1 is not of type 'WritableStream'."));
    let o;
    try { o = pipeOptions(options); } catch (e) { return rejected(e); }
    if (isRSLocked(this)) return rejected(new TypeError('Cannot pipe a locked stream'));
    if (isWSLocked(destination)) return rejected(new TypeError('Cannot pipe to a locked stream'));
    return rsPipeTo(this, destination, o.preventClose, o.preventAbort, o.preventCancel, o.signal);
  }
  tee() {
    check(RS_BRAND, this, 'ReadableStream');
    return rsTee(this);
  }
  values(options = undefined) {
    check(RS_BRAND, this, 'ReadableStream');
    const preventCancel = !!(options != null && options.preventCancel);
    return makeAsyncIterator(this, preventCancel);
  }
  static from(asyncIterable) { return rsFromIterable(asyncIterable); }
}
Object.defineProperty(ReadableStream.prototype, Symbol.asyncIterator, {
  value: ReadableStream.prototype.values, writable: true, enumerable: false, configurable: true,
});
function pipeOptions(options) {
  const o = options == null ? {} : options;
  const signal = o.signal;
  if (signal !== undefined && !$.isAbortSignal(signal))
    throw new TypeError("Failed to execute 'pipeTo' on 'ReadableStream': Failed to read the 'signal' property from 'StreamPipeOptions': Failed to convert value to 'AbortSignal'.");
  return { preventClose: !!o.preventClose, preventAbort: !!o.preventAbort, preventCancel: !!o.preventCancel, signal };
}
function initRS(s) {
  RS_BRAND.add(s);
  slot(s, $state, 'readable');
  slot(s, $reader, undefined);
  slot(s, $storedError, undefined);
  slot(s, $disturbed, false);
  slot(s, $controller, undefined);
}
function createRS(start, pull, cancel, hwm = 1, size = () => 1) {
  const s = Object.create(ReadableStream.prototype);
  initRS(s);
  const c = make(ReadableStreamDefaultController);
  setUpRSDC(s, c, start, pull, cancel, hwm, size);
  return s;
}
const isRSLocked = (s) => s[$reader] !== undefined;

function rsCancel(s, reason) {
  s[$disturbed] = true;
  if (s[$state] === 'closed') return resolved(undefined);
  if (s[$state] === 'errored') return rejected(s[$storedError]);
  rsClose(s);
  const r = s[$reader];
  if (r !== undefined && RSBR_BRAND.has(r)) {
    const reqs = r._readIntoRequests;
    r._readIntoRequests = [];
    for (const req of reqs) req.close(undefined);
  }
  return transformPromise(s[$controller]._cancelSteps(reason), () => undefined);
}
function rsClose(s) {
  s[$state] = 'closed';
  const r = s[$reader];
  if (r === undefined) return;
  r._closedPromise.resolve(undefined);
  if (RSDR_BRAND.has(r)) {
    const reqs = r._readRequests;
    r._readRequests = [];
    for (const req of reqs) req.close();
  }
}
function rsError(s, e) {
  s[$state] = 'errored';
  s[$storedError] = e;
  const r = s[$reader];
  if (r === undefined) return;
  r._closedPromise.reject(e);
  setHandled(r._closedPromise.promise);
  if (RSDR_BRAND.has(r)) {
    const reqs = r._readRequests;
    r._readRequests = [];
    for (const req of reqs) req.error(e);
  } else {
    const reqs = r._readIntoRequests;
    r._readIntoRequests = [];
    for (const req of reqs) req.error(e);
  }
}
function rsAddReadRequest(s, req) { s[$reader]._readRequests.push(req); }
function rsFulfillReadRequest(s, chunk, done) {
  const r = s[$reader];
  const req = r._readRequests.shift();
  if (done) req.close(); else req.chunk(chunk);
}
const rsNumReadRequests = (s) => s[$reader]._readRequests.length;
const rsHasDefaultReader = (s) => s[$reader] !== undefined && RSDR_BRAND.has(s[$reader]);
const rsHasBYOBReader = (s) => s[$reader] !== undefined && RSBR_BRAND.has(s[$reader]);
const rsNumReadIntoRequests = (s) => s[$reader]._readIntoRequests.length;

// ---- readers
function readerGenericInitialize(r, s) {
  r._stream = s;
  s[$reader] = r;
  r._closedPromise = newPromise();
  if (s[$state] === 'closed') r._closedPromise.resolve(undefined);
  else if (s[$state] === 'errored') {
    r._closedPromise.reject(s[$storedError]);
    setHandled(r._closedPromise.promise);
  }
}
function readerGenericRelease(r) {
  const s = r._stream;
  const e = new TypeError('Reader was released');
  if (s[$state] === 'readable') r._closedPromise.reject(e);
  else { r._closedPromise = newPromise(); r._closedPromise.reject(e); }
  setHandled(r._closedPromise.promise);
  s[$controller]._releaseSteps();
  s[$reader] = undefined;
  r._stream = undefined;
}
function readerGenericCancel(r, reason) { return rsCancel(r._stream, reason); }

class ReadableStreamDefaultReader {
  constructor(stream) {
    if (!isRS(stream)) throw new TypeError("Failed to construct 'ReadableStreamDefaultReader': parameter 1 is not of type 'ReadableStream'.");
    if (isRSLocked(stream)) throw new TypeError('ReadableStream is locked');
    RSDR_BRAND.add(this);
    readerGenericInitialize(this, stream);
    this._readRequests = [];
    hideInternals(this);
  }
  get closed() {
    if (!RSDR_BRAND.has(this)) return rejected(new TypeError('Illegal invocation'));
    return this._closedPromise.promise;
  }
  cancel(reason = undefined) {
    if (!RSDR_BRAND.has(this)) return rejected(new TypeError('Illegal invocation'));
    if (this._stream === undefined) return rejected(new TypeError('This reader has been released'));
    return readerGenericCancel(this, reason);
  }
  read() {
    if (!RSDR_BRAND.has(this)) return rejected(new TypeError('Illegal invocation'));
    if (this._stream === undefined) return rejected(new TypeError('This reader has been released'));
    const d = newPromise();
    defaultReaderRead(this, {
      chunk: (value) => d.resolve({ value, done: false }),
      close: () => d.resolve({ value: undefined, done: true }),
      error: (e) => d.reject(e),
    });
    return d.promise;
  }
  releaseLock() {
    check(RSDR_BRAND, this, 'ReadableStreamDefaultReader');
    if (this._stream === undefined) return;
    defaultReaderRelease(this);
  }
}
function defaultReaderRead(r, req) {
  const s = r._stream;
  s[$disturbed] = true;
  if (s[$state] === 'closed') req.close();
  else if (s[$state] === 'errored') req.error(s[$storedError]);
  else s[$controller]._pullSteps(req);
}
function defaultReaderRelease(r) {
  readerGenericRelease(r);
  const e = new TypeError('Reader was released');
  const reqs = r._readRequests;
  r._readRequests = [];
  for (const req of reqs) req.error(e);
}
function acquireDefaultReader(s) { return new ReadableStreamDefaultReader(s); }

class ReadableStreamBYOBReader {
  constructor(stream) {
    if (!isRS(stream)) throw new TypeError("Failed to construct 'ReadableStreamBYOBReader': parameter 1 is not of type 'ReadableStream'.");
    if (isRSLocked(stream)) throw new TypeError('ReadableStream is locked');
    if (!RBSC_BRAND.has(stream[$controller]))
      throw new TypeError('Cannot construct a ReadableStreamBYOBReader for a stream not constructed with a byte source');
    RSBR_BRAND.add(this);
    readerGenericInitialize(this, stream);
    this._readIntoRequests = [];
    hideInternals(this);
  }
  get closed() {
    if (!RSBR_BRAND.has(this)) return rejected(new TypeError('Illegal invocation'));
    return this._closedPromise.promise;
  }
  cancel(reason = undefined) {
    if (!RSBR_BRAND.has(this)) return rejected(new TypeError('Illegal invocation'));
    if (this._stream === undefined) return rejected(new TypeError('This reader has been released'));
    return readerGenericCancel(this, reason);
  }
  read(view, options = undefined) {
    if (!RSBR_BRAND.has(this)) return rejected(new TypeError('Illegal invocation'));
    if (!ArrayBuffer.isView(view)) return rejected(new TypeError('view must be an ArrayBufferView'));
    if (view.byteLength === 0) return rejected(new TypeError('view must have non-zero byteLength'));
    if (view.buffer.byteLength === 0) return rejected(new TypeError("view's buffer must have non-zero byteLength"));
    const min = options == null || options.min === undefined ? 1 : Number(options.min);
    if (!(min > 0)) return rejected(new TypeError('options.min must be greater than 0'));
    const elems = view instanceof DataView ? view.byteLength : view.length;
    if (!(view instanceof DataView) && min > elems) return rejected(new RangeError('options.min must be less than or equal to view\'s length'));
    if (view instanceof DataView && min > view.byteLength) return rejected(new RangeError("options.min must be less than or equal to view's byteLength"));
    if (this._stream === undefined) return rejected(new TypeError('This reader has been released'));
    const d = newPromise();
    byobReaderRead(this, view, min, {
      chunk: (value) => d.resolve({ value, done: false }),
      close: (value) => d.resolve({ value, done: true }),
      error: (e) => d.reject(e),
    });
    return d.promise;
  }
  releaseLock() {
    check(RSBR_BRAND, this, 'ReadableStreamBYOBReader');
    if (this._stream === undefined) return;
    byobReaderRelease(this);
  }
}
function byobReaderRelease(r) {
  readerGenericRelease(r);
  const e = new TypeError('Reader was released');
  const reqs = r._readIntoRequests;
  r._readIntoRequests = [];
  for (const req of reqs) req.error(e);
}
function byobReaderRead(r, view, min, req) {
  const s = r._stream;
  s[$disturbed] = true;
  if (s[$state] === 'errored') req.error(s[$storedError]);
  else rbscPullInto(s[$controller], view, min, req);
}
function acquireBYOBReader(s) { return new ReadableStreamBYOBReader(s); }
// The readers' and controllers' underscore fields are internal: make them
// non-enumerable so they do not show up in logs or Object.keys.
function hideInternals(o) {
  for (const k of Object.keys(o)) if (k[0] === '_') Object.defineProperty(o, k, { enumerable: false });
}

// ---- ReadableStreamDefaultController
class ReadableStreamDefaultController {
  constructor() { illegal(); RSDC_BRAND.add(this); }
  get desiredSize() { check(RSDC_BRAND, this, 'ReadableStreamDefaultController'); return rsdcDesiredSize(this); }
  close() {
    check(RSDC_BRAND, this, 'ReadableStreamDefaultController');
    if (!rsdcCanCloseOrEnqueue(this)) throw new TypeError('The stream is not in a state that permits close');
    rsdcClose(this);
  }
  enqueue(chunk = undefined) {
    check(RSDC_BRAND, this, 'ReadableStreamDefaultController');
    if (!rsdcCanCloseOrEnqueue(this)) throw new TypeError('The stream is not in a state that permits enqueue');
    rsdcEnqueue(this, chunk);
  }
  error(e = undefined) { check(RSDC_BRAND, this, 'ReadableStreamDefaultController'); rsdcError(this, e); }
  _cancelSteps(reason) {
    resetQueue(this);
    const result = this._cancelAlgorithm(reason);
    rsdcClearAlgorithms(this);
    return result;
  }
  _pullSteps(req) {
    const s = this._stream;
    if (this._queue.length > 0) {
      const chunk = dequeueValue(this);
      if (this._closeRequested && this._queue.length === 0) { rsdcClearAlgorithms(this); rsClose(s); }
      else rsdcCallPullIfNeeded(this);
      req.chunk(chunk);
    } else {
      rsAddReadRequest(s, req);
      rsdcCallPullIfNeeded(this);
    }
  }
  _releaseSteps() {}
}
function setUpRSDC(s, c, start, pull, cancel, hwm, size) {
  c._stream = s;
  resetQueue(c);
  c._started = false; c._closeRequested = false; c._pullAgain = false; c._pulling = false;
  c._strategySizeAlgorithm = size;
  c._strategyHWM = hwm;
  c._pullAlgorithm = pull;
  c._cancelAlgorithm = cancel;
  hideInternals(c);
  s[$controller] = c;
  const startResult = start();
  uponPromise(resolved(startResult), () => {
    c._started = true;
    rsdcCallPullIfNeeded(c);
  }, (r) => rsdcError(c, r));
}
function setUpRSDCFromSource(s, src, hwm, size) {
  const c = make(ReadableStreamDefaultController);
  const start = getMethod(src, 'start', 'underlyingSource');
  const pull = getMethod(src, 'pull', 'underlyingSource');
  const cancel = getMethod(src, 'cancel', 'underlyingSource');
  setUpRSDC(s, c,
    () => (start ? Reflect.apply(start, src, [c]) : undefined),
    () => (pull ? promiseCall(pull, src, [c]) : resolved(undefined)),
    (r) => (cancel ? promiseCall(cancel, src, [r]) : resolved(undefined)),
    hwm, size);
}
function rsdcCallPullIfNeeded(c) {
  if (!rsdcShouldCallPull(c)) return;
  if (c._pulling) { c._pullAgain = true; return; }
  c._pulling = true;
  uponPromise(c._pullAlgorithm(), () => {
    c._pulling = false;
    if (c._pullAgain) { c._pullAgain = false; rsdcCallPullIfNeeded(c); }
  }, (e) => rsdcError(c, e));
}
function rsdcShouldCallPull(c) {
  const s = c._stream;
  if (!rsdcCanCloseOrEnqueue(c) || !c._started) return false;
  if (isRSLocked(s) && rsHasDefaultReader(s) && rsNumReadRequests(s) > 0) return true;
  return rsdcDesiredSize(c) > 0;
}
function rsdcClearAlgorithms(c) {
  c._pullAlgorithm = undefined; c._cancelAlgorithm = undefined; c._strategySizeAlgorithm = undefined;
}
function rsdcClose(c) {
  if (!rsdcCanCloseOrEnqueue(c)) return;
  c._closeRequested = true;
  if (c._queue.length === 0) { rsdcClearAlgorithms(c); rsClose(c._stream); }
}
function rsdcEnqueue(c, chunk) {
  if (!rsdcCanCloseOrEnqueue(c)) return;
  const s = c._stream;
  if (isRSLocked(s) && rsHasDefaultReader(s) && rsNumReadRequests(s) > 0) {
    rsFulfillReadRequest(s, chunk, false);
  } else {
    let size;
    try { size = c._strategySizeAlgorithm(chunk); } catch (e) { rsdcError(c, e); throw e; }
    try { enqueueValueWithSize(c, chunk, size); } catch (e) { rsdcError(c, e); throw e; }
  }
  rsdcCallPullIfNeeded(c);
}
function rsdcError(c, e) {
  const s = c._stream;
  if (s[$state] !== 'readable') return;
  resetQueue(c);
  rsdcClearAlgorithms(c);
  rsError(s, e);
}
function rsdcDesiredSize(c) {
  const st = c._stream[$state];
  if (st === 'errored') return null;
  if (st === 'closed') return 0;
  return c._strategyHWM - c._queueTotalSize;
}
const rsdcHasBackpressure = (c) => !rsdcShouldCallPull(c);
const rsdcCanCloseOrEnqueue = (c) => !c._closeRequested && c._stream[$state] === 'readable';

// ---- ReadableByteStreamController
class ReadableStreamBYOBRequest {
  constructor() { illegal(); BYOBREQ_BRAND.add(this); }
  get view() { check(BYOBREQ_BRAND, this, 'ReadableStreamBYOBRequest'); return this._view; }
  respond(bytesWritten) {
    check(BYOBREQ_BRAND, this, 'ReadableStreamBYOBRequest');
    const n = Number(bytesWritten);
    if (!(n >= 0) || !Number.isFinite(n)) throw new TypeError('bytesWritten must be a non-negative number');
    if (this._controller === undefined) throw new TypeError('This BYOB request has been invalidated');
    rbscRespond(this._controller, Math.trunc(n));
  }
  respondWithNewView(view) {
    check(BYOBREQ_BRAND, this, 'ReadableStreamBYOBRequest');
    if (!ArrayBuffer.isView(view)) throw new TypeError('view must be an ArrayBufferView');
    if (this._controller === undefined) throw new TypeError('This BYOB request has been invalidated');
    rbscRespondWithNewView(this._controller, view);
  }
}
class ReadableByteStreamController {
  constructor() { illegal(); RBSC_BRAND.add(this); }
  get byobRequest() { check(RBSC_BRAND, this, 'ReadableByteStreamController'); return rbscGetBYOBRequest(this); }
  get desiredSize() { check(RBSC_BRAND, this, 'ReadableByteStreamController'); return rbscDesiredSize(this); }
  close() {
    check(RBSC_BRAND, this, 'ReadableByteStreamController');
    if (this._closeRequested) throw new TypeError('The stream has already been closed; do not close it again!');
    if (this._stream[$state] !== 'readable') throw new TypeError('The stream is not in the readable state and cannot be closed');
    rbscClose(this);
  }
  enqueue(chunk) {
    check(RBSC_BRAND, this, 'ReadableByteStreamController');
    if (!ArrayBuffer.isView(chunk)) throw new TypeError('chunk must be an ArrayBufferView');
    if (chunk.byteLength === 0) throw new TypeError('chunk must have non-zero byteLength');
    if (chunk.buffer.byteLength === 0) throw new TypeError("chunk's buffer must have non-zero byteLength");
    if (this._closeRequested) throw new TypeError('stream is closed or draining');
    if (this._stream[$state] !== 'readable') throw new TypeError('The stream is not in the readable state and cannot be enqueued to');
    rbscEnqueue(this, chunk);
  }
  error(e = undefined) { check(RBSC_BRAND, this, 'ReadableByteStreamController'); rbscError(this, e); }
  _cancelSteps(reason) {
    rbscClearPendingPullIntos(this);
    resetQueue(this);
    const result = this._cancelAlgorithm(reason);
    rbscClearAlgorithms(this);
    return result;
  }
  _pullSteps(req) {
    const s = this._stream;
    if (this._queueTotalSize > 0) {
      rbscFillReadRequestFromQueue(this, req);
      return;
    }
    const size = this._autoAllocateChunkSize;
    if (size !== undefined) {
      let buffer;
      try { buffer = new ArrayBuffer(size); } catch (e) { req.error(e); return; }
      this._pendingPullIntos.push({
        buffer, bufferByteLength: size, byteOffset: 0, byteLength: size, bytesFilled: 0,
        minimumFill: 1, elementSize: 1, viewConstructor: Uint8Array, readerType: 'default',
      });
    }
    rsAddReadRequest(s, req);
    rbscCallPullIfNeeded(this);
  }
  _releaseSteps() {
    if (this._pendingPullIntos.length > 0) {
      const first = this._pendingPullIntos[0];
      first.readerType = 'none';
      this._pendingPullIntos = [first];
    }
  }
}
function setUpRBSC(s, c, start, pull, cancel, hwm, autoAllocateChunkSize) {
  c._stream = s;
  c._pullAgain = false; c._pulling = false;
  c._byobRequest = null;
  resetQueue(c);
  c._closeRequested = false; c._started = false;
  c._strategyHWM = hwm;
  c._pullAlgorithm = pull;
  c._cancelAlgorithm = cancel;
  c._autoAllocateChunkSize = autoAllocateChunkSize;
  c._pendingPullIntos = [];
  hideInternals(c);
  s[$controller] = c;
  const startResult = start();
  uponPromise(resolved(startResult), () => {
    c._started = true;
    rbscCallPullIfNeeded(c);
  }, (r) => rbscError(c, r));
}
function setUpRBSCFromSource(s, src, hwm) {
  const c = make(ReadableByteStreamController);
  const start = getMethod(src, 'start', 'underlyingSource');
  const pull = getMethod(src, 'pull', 'underlyingSource');
  const cancel = getMethod(src, 'cancel', 'underlyingSource');
  let aacs = src.autoAllocateChunkSize;
  if (aacs !== undefined) {
    aacs = Number(aacs);
    if (!Number.isInteger(aacs) || aacs <= 0) throw new TypeError('autoAllocateChunkSize must be greater than 0');
  }
  setUpRBSC(s, c,
    () => (start ? Reflect.apply(start, src, [c]) : undefined),
    () => (pull ? promiseCall(pull, src, [c]) : resolved(undefined)),
    (r) => (cancel ? promiseCall(cancel, src, [r]) : resolved(undefined)),
    hwm, aacs);
}
function rbscGetBYOBRequest(c) {
  if (c._byobRequest === null && c._pendingPullIntos.length > 0) {
    const first = c._pendingPullIntos[0];
    const view = new Uint8Array(first.buffer, first.byteOffset + first.bytesFilled, first.byteLength - first.bytesFilled);
    const req = make(ReadableStreamBYOBRequest);
    req._controller = c;
    req._view = view;
    hideInternals(req);
    c._byobRequest = req;
  }
  return c._byobRequest;
}
function rbscDesiredSize(c) {
  const st = c._stream[$state];
  if (st === 'errored') return null;
  if (st === 'closed') return 0;
  return c._strategyHWM - c._queueTotalSize;
}
function rbscCallPullIfNeeded(c) {
  if (!rbscShouldCallPull(c)) return;
  if (c._pulling) { c._pullAgain = true; return; }
  c._pulling = true;
  uponPromise(c._pullAlgorithm(), () => {
    c._pulling = false;
    if (c._pullAgain) { c._pullAgain = false; rbscCallPullIfNeeded(c); }
  }, (e) => rbscError(c, e));
}
function rbscShouldCallPull(c) {
  const s = c._stream;
  if (s[$state] !== 'readable' || c._closeRequested || !c._started) return false;
  if (rsHasDefaultReader(s) && rsNumReadRequests(s) > 0) return true;
  if (rsHasBYOBReader(s) && rsNumReadIntoRequests(s) > 0) return true;
  return rbscDesiredSize(c) > 0;
}
function rbscClearAlgorithms(c) { c._pullAlgorithm = undefined; c._cancelAlgorithm = undefined; }
function rbscInvalidateBYOBRequest(c) {
  if (c._byobRequest === null) return;
  c._byobRequest._controller = undefined;
  c._byobRequest._view = null;
  c._byobRequest = null;
}
function rbscClearPendingPullIntos(c) { rbscInvalidateBYOBRequest(c); c._pendingPullIntos = []; }
function rbscClose(c) {
  const s = c._stream;
  if (c._closeRequested || s[$state] !== 'readable') return;
  if (c._queueTotalSize > 0) { c._closeRequested = true; return; }
  if (c._pendingPullIntos.length > 0) {
    const first = c._pendingPullIntos[0];
    if (first.bytesFilled % first.elementSize !== 0) {
      const e = new TypeError('Insufficient bytes to fill elements in the given buffer');
      rbscError(c, e);
      throw e;
    }
  }
  rbscClearAlgorithms(c);
  rsClose(s);
}
function rbscEnqueue(c, chunk) {
  const s = c._stream;
  if (c._closeRequested || s[$state] !== 'readable') return;
  const buffer = chunk.buffer, byteOffset = chunk.byteOffset, byteLength = chunk.byteLength;
  if (c._pendingPullIntos.length > 0) {
    rbscInvalidateBYOBRequest(c);
    const first = c._pendingPullIntos[0];
    if (first.readerType === 'none') rbscEnqueueDetachedPullIntoToQueue(c, first);
  }
  if (rsHasDefaultReader(s)) {
    rbscProcessReadRequestsUsingQueue(c);
    if (rsNumReadRequests(s) === 0) {
      rbscEnqueueChunkToQueue(c, buffer, byteOffset, byteLength);
    } else {
      if (c._pendingPullIntos.length > 0) rbscShiftPendingPullInto(c);
      rsFulfillReadRequest(s, new Uint8Array(buffer, byteOffset, byteLength), false);
    }
  } else if (rsHasBYOBReader(s)) {
    rbscEnqueueChunkToQueue(c, buffer, byteOffset, byteLength);
    rbscProcessPullIntoDescriptorsUsingQueue(c);
  } else {
    rbscEnqueueChunkToQueue(c, buffer, byteOffset, byteLength);
  }
  rbscCallPullIfNeeded(c);
}
function rbscEnqueueChunkToQueue(c, buffer, byteOffset, byteLength) {
  c._queue.push({ buffer, byteOffset, byteLength });
  c._queueTotalSize += byteLength;
}
function rbscEnqueueClonedChunkToQueue(c, buffer, byteOffset, byteLength) {
  const clone = buffer.slice(byteOffset, byteOffset + byteLength);
  rbscEnqueueChunkToQueue(c, clone, 0, byteLength);
}
function rbscEnqueueDetachedPullIntoToQueue(c, pi) {
  if (pi.bytesFilled > 0) rbscEnqueueClonedChunkToQueue(c, pi.buffer, pi.byteOffset, pi.bytesFilled);
  rbscShiftPendingPullInto(c);
}
function rbscError(c, e) {
  const s = c._stream;
  if (s[$state] !== 'readable') return;
  rbscClearPendingPullIntos(c);
  resetQueue(c);
  rbscClearAlgorithms(c);
  rsError(s, e);
}
function rbscFillReadRequestFromQueue(c, req) {
  const entry = c._queue.shift();
  c._queueTotalSize -= entry.byteLength;
  rbscHandleQueueDrain(c);
  req.chunk(new Uint8Array(entry.buffer, entry.byteOffset, entry.byteLength));
}
function rbscHandleQueueDrain(c) {
  if (c._queueTotalSize === 0 && c._closeRequested) { rbscClearAlgorithms(c); rsClose(c._stream); }
  else rbscCallPullIfNeeded(c);
}
function rbscProcessReadRequestsUsingQueue(c) {
  const r = c._stream[$reader];
  while (r._readRequests.length > 0) {
    if (c._queueTotalSize === 0) return;
    const req = r._readRequests.shift();
    rbscFillReadRequestFromQueue(c, req);
  }
}
function rbscShiftPendingPullInto(c) { return c._pendingPullIntos.shift(); }
function rbscFillPullIntoDescriptorFromQueue(c, pi) {
  const maxBytesToCopy = Math.min(c._queueTotalSize, pi.byteLength - pi.bytesFilled);
  const maxBytesFilled = pi.bytesFilled + maxBytesToCopy;
  let totalBytesToCopyRemaining = maxBytesToCopy;
  let ready = false;
  const remainderBytes = maxBytesFilled % pi.elementSize;
  const maxAlignedBytes = maxBytesFilled - remainderBytes;
  if (maxAlignedBytes >= pi.minimumFill) {
    totalBytesToCopyRemaining = maxAlignedBytes - pi.bytesFilled;
    ready = true;
  }
  const queue = c._queue;
  while (totalBytesToCopyRemaining > 0) {
    const head = queue[0];
    const bytesToCopy = Math.min(totalBytesToCopyRemaining, head.byteLength);
    const destStart = pi.byteOffset + pi.bytesFilled;
    new Uint8Array(pi.buffer, destStart, bytesToCopy).set(new Uint8Array(head.buffer, head.byteOffset, bytesToCopy));
    if (head.byteLength === bytesToCopy) queue.shift();
    else { head.byteOffset += bytesToCopy; head.byteLength -= bytesToCopy; }
    c._queueTotalSize -= bytesToCopy;
    rbscFillHeadPullIntoDescriptor(c, bytesToCopy, pi);
    totalBytesToCopyRemaining -= bytesToCopy;
  }
  return ready;
}
function rbscFillHeadPullIntoDescriptor(c, size, pi) { pi.bytesFilled += size; }
function rbscProcessPullIntoDescriptorsUsingQueue(c) {
  while (c._pendingPullIntos.length > 0) {
    if (c._queueTotalSize === 0) return;
    const pi = c._pendingPullIntos[0];
    if (rbscFillPullIntoDescriptorFromQueue(c, pi)) {
      rbscShiftPendingPullInto(c);
      rbscCommitPullIntoDescriptor(c._stream, pi);
    }
  }
}
function convertPullIntoDescriptor(pi) {
  const elements = pi.bytesFilled / pi.elementSize;
  if (pi.viewConstructor === DataView) return new DataView(pi.buffer, pi.byteOffset, pi.bytesFilled);
  return new pi.viewConstructor(pi.buffer, pi.byteOffset, elements);
}
function rbscCommitPullIntoDescriptor(s, pi) {
  let done = false;
  if (s[$state] === 'closed') done = true;
  const filled = convertPullIntoDescriptor(pi);
  if (pi.readerType === 'default') rsFulfillReadRequest(s, filled, done);
  else {
    const req = s[$reader]._readIntoRequests.shift();
    if (done) req.close(filled); else req.chunk(filled);
  }
}
function rbscPullInto(c, view, min, req) {
  const s = c._stream;
  let elementSize = 1, ctor = DataView;
  if (!(view instanceof DataView)) { ctor = view.constructor; elementSize = ctor.BYTES_PER_ELEMENT; }
  const minimumFill = min * elementSize;
  const pi = {
    buffer: view.buffer, bufferByteLength: view.buffer.byteLength, byteOffset: view.byteOffset,
    byteLength: view.byteLength, bytesFilled: 0, minimumFill, elementSize, viewConstructor: ctor, readerType: 'byob',
  };
  if (c._pendingPullIntos.length > 0) {
    c._pendingPullIntos.push(pi);
    s[$reader]._readIntoRequests.push(req);
    return;
  }
  if (s[$state] === 'closed') {
    const empty = ctor === DataView ? new DataView(pi.buffer, pi.byteOffset, 0) : new ctor(pi.buffer, pi.byteOffset, 0);
    req.close(empty);
    return;
  }
  if (c._queueTotalSize > 0) {
    if (rbscFillPullIntoDescriptorFromQueue(c, pi)) {
      const filled = convertPullIntoDescriptor(pi);
      rbscHandleQueueDrain(c);
      req.chunk(filled);
      return;
    }
    if (c._closeRequested) {
      const e = new TypeError('Insufficient bytes to fill elements in the given buffer');
      rbscError(c, e);
      req.error(e);
      return;
    }
  }
  c._pendingPullIntos.push(pi);
  s[$reader]._readIntoRequests.push(req);
  rbscCallPullIfNeeded(c);
}
function rbscRespond(c, bytesWritten) {
  const first = c._pendingPullIntos[0];
  const state = c._stream[$state];
  if (state === 'closed') {
    if (bytesWritten !== 0) throw new TypeError('bytesWritten must be 0 when calling respond() on a closed stream');
  } else {
    if (bytesWritten === 0) throw new TypeError('bytesWritten must be greater than 0 when calling respond() on a readable stream');
    if (first.bytesFilled + bytesWritten > first.byteLength) throw new RangeError('bytesWritten out of range');
  }
  rbscRespondInternal(c, bytesWritten);
}
function rbscRespondInClosedState(c, first) {
  if (first.readerType === 'none') rbscShiftPendingPullInto(c);
  const s = c._stream;
  if (rsHasBYOBReader(s)) {
    while (rsNumReadIntoRequests(s) > 0) rbscCommitPullIntoDescriptor(s, rbscShiftPendingPullInto(c));
  }
}
function rbscRespondInReadableState(c, bytesWritten, pi) {
  rbscFillHeadPullIntoDescriptor(c, bytesWritten, pi);
  if (pi.readerType === 'none') {
    rbscEnqueueDetachedPullIntoToQueue(c, pi);
    rbscProcessPullIntoDescriptorsUsingQueue(c);
    return;
  }
  if (pi.bytesFilled < pi.minimumFill) return;
  rbscShiftPendingPullInto(c);
  const remainderSize = pi.bytesFilled % pi.elementSize;
  if (remainderSize > 0) {
    const end = pi.byteOffset + pi.bytesFilled;
    rbscEnqueueClonedChunkToQueue(c, pi.buffer, end - remainderSize, remainderSize);
  }
  pi.bytesFilled -= remainderSize;
  rbscCommitPullIntoDescriptor(c._stream, pi);
  rbscProcessPullIntoDescriptorsUsingQueue(c);
}
function rbscRespondInternal(c, bytesWritten) {
  const first = c._pendingPullIntos[0];
  rbscInvalidateBYOBRequest(c);
  if (c._stream[$state] === 'closed') rbscRespondInClosedState(c, first);
  else rbscRespondInReadableState(c, bytesWritten, first);
  rbscCallPullIfNeeded(c);
}
function rbscRespondWithNewView(c, view) {
  const first = c._pendingPullIntos[0];
  const state = c._stream[$state];
  if (state === 'closed') {
    if (view.byteLength !== 0) throw new TypeError("The view's length must be 0 when calling respondWithNewView() on a closed stream");
  } else if (view.byteLength === 0) {
    throw new TypeError("The view's length must be greater than 0 when calling respondWithNewView() on a readable stream");
  }
  if (first.byteOffset + first.bytesFilled !== view.byteOffset) throw new RangeError('The region specified by view does not match byobRequest');
  if (first.bufferByteLength !== view.buffer.byteLength) throw new RangeError('The buffer of view has different capacity than byobRequest');
  if (first.bytesFilled + view.byteLength > first.byteLength) throw new RangeError('The region specified by view is larger than byobRequest');
  first.buffer = view.buffer;
  rbscRespondInternal(c, view.byteLength);
}

// ---- tee: ReadableStreamDefaultTee, and ReadableByteStreamTee for byte
// streams (whose branches are byte streams, each chunk copied for the
// second branch).
function rsTee(stream) {
  if (RBSC_BRAND.has(stream[$controller])) return rsByteTee(stream);
  const reader = acquireDefaultReader(stream);
  let reading = false, readAgain = false, canceled1 = false, canceled2 = false;
  let reason1, reason2, branch1, branch2;
  const cancelPromise = newPromise();
  const pullAlgorithm = () => {
    if (reading) { readAgain = true; return resolved(undefined); }
    reading = true;
    defaultReaderRead(reader, {
      chunk: (chunk) => {
        queueMicrotask(() => {
          readAgain = false;
          if (!canceled1) rsdcEnqueue(branch1[$controller], chunk);
          if (!canceled2) rsdcEnqueue(branch2[$controller], chunk);
          reading = false;
          if (readAgain) pullAlgorithm();
        });
      },
      close: () => {
        reading = false;
        if (!canceled1) rsdcClose(branch1[$controller]);
        if (!canceled2) rsdcClose(branch2[$controller]);
        if (!canceled1 || !canceled2) cancelPromise.resolve(undefined);
      },
      error: () => { reading = false; },
    });
    return resolved(undefined);
  };
  const cancel1 = (reason) => {
    canceled1 = true; reason1 = reason;
    if (canceled2) cancelPromise.resolve(rsCancel(stream, [reason1, reason2]));
    return cancelPromise.promise;
  };
  const cancel2 = (reason) => {
    canceled2 = true; reason2 = reason;
    if (canceled1) cancelPromise.resolve(rsCancel(stream, [reason1, reason2]));
    return cancelPromise.promise;
  };
  const start = () => undefined;
  branch1 = createRS(start, pullAlgorithm, cancel1);
  branch2 = createRS(start, pullAlgorithm, cancel2);
  uponPromise(reader._closedPromise.promise, () => {}, (r) => {
    rsdcError(branch1[$controller], r);
    rsdcError(branch2[$controller], r);
    if (!canceled1 || !canceled2) cancelPromise.resolve(undefined);
  });
  return [branch1, branch2];
}

function createByteStream(start, pull, cancel) {
  const s = Object.create(ReadableStream.prototype);
  initRS(s);
  setUpRBSC(s, make(ReadableByteStreamController), start, pull, cancel, 0, undefined);
  return s;
}
const cloneAsUint8Array = (v) => new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
function rsByteTee(stream) {
  let reader = acquireDefaultReader(stream);
  let reading = false, readAgain1 = false, readAgain2 = false, canceled1 = false, canceled2 = false;
  let reason1, reason2, branch1, branch2;
  const cancelPromise = newPromise();
  const forwardReaderError = (thisReader) => {
    uponPromise(thisReader._closedPromise.promise, undefined, (r) => {
      if (thisReader !== reader) return;
      rbscError(branch1[$controller], r);
      rbscError(branch2[$controller], r);
      if (!canceled1 || !canceled2) cancelPromise.resolve(undefined);
    });
  };
  const cloneFailed = (e) => {
    rbscError(branch1[$controller], e);
    rbscError(branch2[$controller], e);
    cancelPromise.resolve(rsCancel(stream, e));
  };
  const pullWithDefaultReader = () => {
    if (RSBR_BRAND.has(reader)) {
      byobReaderRelease(reader);
      reader = acquireDefaultReader(stream);
      forwardReaderError(reader);
    }
    defaultReaderRead(reader, {
      chunk: (chunk) => {
        queueMicrotask(() => {
          readAgain1 = false; readAgain2 = false;
          let chunk2 = chunk;
          if (!canceled1 && !canceled2) {
            try { chunk2 = cloneAsUint8Array(chunk); } catch (e) { cloneFailed(e); return; }
          }
          if (!canceled1) rbscEnqueue(branch1[$controller], chunk);
          if (!canceled2) rbscEnqueue(branch2[$controller], chunk2);
          reading = false;
          if (readAgain1) pull1(); else if (readAgain2) pull2();
        });
      },
      close: () => {
        reading = false;
        if (!canceled1) rbscClose(branch1[$controller]);
        if (!canceled2) rbscClose(branch2[$controller]);
        if (branch1[$controller]._pendingPullIntos.length > 0) rbscRespond(branch1[$controller], 0);
        if (branch2[$controller]._pendingPullIntos.length > 0) rbscRespond(branch2[$controller], 0);
        if (!canceled1 || !canceled2) cancelPromise.resolve(undefined);
      },
      error: () => { reading = false; },
    });
  };
  const pullWithBYOBReader = (view, forBranch2) => {
    if (RSDR_BRAND.has(reader)) {
      defaultReaderRelease(reader);
      reader = acquireBYOBReader(stream);
      forwardReaderError(reader);
    }
    const byobBranch = forBranch2 ? branch2 : branch1;
    const otherBranch = forBranch2 ? branch1 : branch2;
    byobReaderRead(reader, view, 1, {
      chunk: (chunk) => {
        queueMicrotask(() => {
          readAgain1 = false; readAgain2 = false;
          const byobCanceled = forBranch2 ? canceled2 : canceled1;
          const otherCanceled = forBranch2 ? canceled1 : canceled2;
          if (!otherCanceled) {
            let clone;
            try { clone = cloneAsUint8Array(chunk); } catch (e) { cloneFailed(e); return; }
            if (!byobCanceled) rbscRespondWithNewView(byobBranch[$controller], chunk);
            rbscEnqueue(otherBranch[$controller], clone);
          } else if (!byobCanceled) {
            rbscRespondWithNewView(byobBranch[$controller], chunk);
          }
          reading = false;
          if (readAgain1) pull1(); else if (readAgain2) pull2();
        });
      },
      close: (chunk) => {
        reading = false;
        const byobCanceled = forBranch2 ? canceled2 : canceled1;
        const otherCanceled = forBranch2 ? canceled1 : canceled2;
        if (!byobCanceled) rbscClose(byobBranch[$controller]);
        if (!otherCanceled) rbscClose(otherBranch[$controller]);
        if (chunk !== undefined) {
          if (!byobCanceled) rbscRespondWithNewView(byobBranch[$controller], chunk);
          if (!otherCanceled && otherBranch[$controller]._pendingPullIntos.length > 0)
            rbscRespond(otherBranch[$controller], 0);
        }
        if (!byobCanceled || !otherCanceled) cancelPromise.resolve(undefined);
      },
      error: () => { reading = false; },
    });
  };
  const pull1 = () => {
    if (reading) { readAgain1 = true; return resolved(undefined); }
    reading = true;
    const req = rbscGetBYOBRequest(branch1[$controller]);
    if (req === null) pullWithDefaultReader(); else pullWithBYOBReader(req._view, false);
    return resolved(undefined);
  };
  const pull2 = () => {
    if (reading) { readAgain2 = true; return resolved(undefined); }
    reading = true;
    const req = rbscGetBYOBRequest(branch2[$controller]);
    if (req === null) pullWithDefaultReader(); else pullWithBYOBReader(req._view, true);
    return resolved(undefined);
  };
  const cancel1 = (reason) => {
    canceled1 = true; reason1 = reason;
    if (canceled2) cancelPromise.resolve(rsCancel(stream, [reason1, reason2]));
    return cancelPromise.promise;
  };
  const cancel2 = (reason) => {
    canceled2 = true; reason2 = reason;
    if (canceled1) cancelPromise.resolve(rsCancel(stream, [reason1, reason2]));
    return cancelPromise.promise;
  };
  const start = () => undefined;
  branch1 = createByteStream(start, pull1, cancel1);
  branch2 = createByteStream(start, pull2, cancel2);
  forwardReaderError(reader);
  return [branch1, branch2];
}

// ---- pipeTo
function rsPipeTo(source, dest, preventClose, preventAbort, preventCancel, signal) {
  const reader = acquireDefaultReader(source);
  const writer = acquireWriter(dest);
  source[$disturbed] = true;
  let shuttingDown = false;
  let currentWrite = resolved(undefined);
  const d = newPromise();
  let abortAlgorithm;
  if (signal !== undefined) {
    abortAlgorithm = () => {
      const error = signal.reason;
      const actions = [];
      if (!preventAbort) actions.push(() => (dest[$state] === 'writable' ? wsAbort(dest, error) : resolved(undefined)));
      if (!preventCancel) actions.push(() => (source[$state] === 'readable' ? rsCancel(source, error) : resolved(undefined)));
      shutdownWithAction(() => Promise.all(actions.map((a) => a())), true, error);
    };
    if (signal.aborted) { abortAlgorithm(); return d.promise; }
    $.signalAdd(signal, abortAlgorithm);
  }
  const pipeStep = () => {
    if (shuttingDown) return resolved(true);
    return transformPromise(writer._readyPromise.promise, () => {
      const r = newPromise();
      defaultReaderRead(reader, {
        chunk: (chunk) => {
          currentWrite = transformPromise(wsWriterWrite(writer, chunk), undefined, () => {});
          r.resolve(false);
        },
        close: () => r.resolve(true),
        error: r.reject,
      });
      return r.promise;
    });
  };
  const pipeLoop = () => {
    const n = newPromise();
    const next = (done) => {
      if (done) n.resolve();
      else transformPromise(pipeStep(), next, n.reject);
    };
    next(false);
    return n.promise;
  };
  setHandled(pipeLoop());
  const isOrBecomes = (stream, promise, action) => {
    if (stream[$state] === 'errored') action(stream[$storedError]);
    else uponPromise(promise, undefined, action);
  };
  isOrBecomes(source, reader._closedPromise.promise, (storedError) => {
    if (!preventAbort) shutdownWithAction(() => wsAbort(dest, storedError), true, storedError);
    else shutdown(true, storedError);
  });
  isOrBecomes(dest, writer._closedPromise.promise, (storedError) => {
    if (!preventCancel) shutdownWithAction(() => rsCancel(source, storedError), true, storedError);
    else shutdown(true, storedError);
  });
  if (source[$state] === 'closed') {
    if (!preventClose) shutdownWithAction(() => wsWriterCloseWithErrorPropagation(writer));
    else shutdown();
  } else {
    uponPromise(reader._closedPromise.promise, () => {
      if (!preventClose) shutdownWithAction(() => wsWriterCloseWithErrorPropagation(writer));
      else shutdown();
    }, () => {});
  }
  if (wsCloseQueuedOrInFlight(dest) || dest[$state] === 'closed') {
    const destClosed = new TypeError('the destination writable stream closed before all data could be piped to it');
    if (!preventCancel) shutdownWithAction(() => rsCancel(source, destClosed), true, destClosed);
    else shutdown(true, destClosed);
  }
  function waitForWritesToFinish() {
    const old = currentWrite;
    return transformPromise(currentWrite, () => (old !== currentWrite ? waitForWritesToFinish() : undefined));
  }
  function shutdownWithAction(action, originalIsError, originalError) {
    if (shuttingDown) return;
    shuttingDown = true;
    const doTheRest = () => {
      uponPromise(action(), () => finalize(originalIsError, originalError), (e) => finalize(true, e));
    };
    if (dest[$state] === 'writable' && !wsCloseQueuedOrInFlight(dest)) uponPromise(waitForWritesToFinish(), doTheRest);
    else doTheRest();
  }
  function shutdown(isError, error) {
    if (shuttingDown) return;
    shuttingDown = true;
    if (dest[$state] === 'writable' && !wsCloseQueuedOrInFlight(dest)) uponPromise(waitForWritesToFinish(), () => finalize(isError, error));
    else finalize(isError, error);
  }
  function finalize(isError, error) {
    wsWriterRelease(writer);
    defaultReaderRelease(reader);
    if (signal !== undefined) $.signalRemove(signal, abortAlgorithm);
    if (isError) d.reject(error); else d.resolve(undefined);
  }
  return d.promise;
}

// ---- async iteration and ReadableStream.from
const AsyncIteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype);
const RSIterProto = Object.create(AsyncIteratorPrototype);
const ITER = new WeakMap();
$.defineMethods(RSIterProto, {
  next() {
    const it = ITER.get(this);
    if (!it) return rejected(new TypeError('Illegal invocation'));
    const run = () => {
      if (it.finished) return resolved({ value: undefined, done: true });
      const reader = it.reader;
      if (reader._stream === undefined) return rejected(new TypeError('Cannot get the next iteration result once the reader has been released'));
      const d = newPromise();
      defaultReaderRead(reader, {
        chunk: (value) => d.resolve({ value, done: false }),
        close: () => { it.finished = true; defaultReaderRelease(reader); d.resolve({ value: undefined, done: true }); },
        error: (e) => { it.finished = true; defaultReaderRelease(reader); d.reject(e); },
      });
      return d.promise;
    };
    it.ongoing = it.ongoing ? it.ongoing.then(run, run) : run();
    return it.ongoing;
  },
  return(value) {
    const it = ITER.get(this);
    if (!it) return rejected(new TypeError('Illegal invocation'));
    const run = () => {
      if (it.finished) return resolved({ value, done: true });
      it.finished = true;
      const reader = it.reader;
      if (reader._stream === undefined) return resolved({ value, done: true });
      if (!it.preventCancel) {
        const result = readerGenericCancel(reader, value);
        defaultReaderRelease(reader);
        return transformPromise(result, () => ({ value, done: true }));
      }
      defaultReaderRelease(reader);
      return resolved({ value, done: true });
    };
    it.ongoing = it.ongoing ? it.ongoing.then(run, run) : run();
    return it.ongoing;
  },
});
Object.defineProperty(RSIterProto, Symbol.toStringTag, { value: 'ReadableStream AsyncIterator', configurable: true });
function makeAsyncIterator(stream, preventCancel) {
  const reader = acquireDefaultReader(stream);
  const it = Object.create(RSIterProto);
  ITER.set(it, { reader, preventCancel, finished: false, ongoing: null });
  return it;
}
function rsFromIterable(asyncIterable) {
  if (isRS(asyncIterable)) return asyncIterable;
  let method = asyncIterable == null ? undefined : asyncIterable[Symbol.asyncIterator];
  let iterator, nextMethod;
  if (method == null) {
    const sync = asyncIterable == null ? undefined : asyncIterable[Symbol.iterator];
    if (typeof sync !== 'function') throw new TypeError("Failed to execute 'from' on 'ReadableStream': The provided value is not an async iterable.");
    const syncIt = sync.call(asyncIterable);
    const syncNext = syncIt.next;
    iterator = {
      next() {
        const r = syncNext.call(syncIt);
        return Promise.resolve(r.value).then((value) => ({ value, done: r.done }));
      },
      return(v) { const f = syncIt.return; return resolved(f ? f.call(syncIt, v) : { value: v, done: true }); },
    };
  } else {
    if (typeof method !== 'function') throw new TypeError('Symbol.asyncIterator is not a function');
    iterator = method.call(asyncIterable);
  }
  if (!$.isObject(iterator)) throw new TypeError('The iterator is not an object');
  nextMethod = iterator.next;
  let stream;
  const pull = () => {
    let nextResult;
    try { nextResult = nextMethod.call(iterator); } catch (e) { return rejected(e); }
    return transformPromise(resolved(nextResult), (r) => {
      if (!$.isObject(r)) throw new TypeError('The promise returned by the iterator.next() method must fulfill with an object');
      if (r.done) rsdcClose(stream[$controller]);
      else rsdcEnqueue(stream[$controller], r.value);
    });
  };
  const cancel = (reason) => {
    let ret;
    try { ret = iterator.return; } catch (e) { return rejected(e); }
    if (ret == null) return resolved(undefined);
    let res;
    try { res = ret.call(iterator, reason); } catch (e) { return rejected(e); }
    return transformPromise(resolved(res), (r) => {
      if (!$.isObject(r)) throw new TypeError('The promise returned by the iterator.return() method must fulfill with an object');
    });
  };
  stream = createRS(() => undefined, pull, cancel, 0);
  return stream;
}

// =====================================================================
// WritableStream
class WritableStream {
  constructor(underlyingSink = undefined, strategy = undefined) {
    if (underlyingSink === null) throw new TypeError('underlyingSink cannot be null');
    const sink = underlyingSink === undefined ? {} : underlyingSink;
    const st = strategy === undefined ? {} : strategy;
    if (sink.type !== undefined) throw new RangeError('Invalid type is specified');
    initWS(this);
    const size = extractSizeAlgorithm(st);
    const hwm = extractHighWaterMark(st, 1);
    const c = make(WritableStreamDefaultController);
    const start = getMethod(sink, 'start', 'underlyingSink');
    const write = getMethod(sink, 'write', 'underlyingSink');
    const close = getMethod(sink, 'close', 'underlyingSink');
    const abort = getMethod(sink, 'abort', 'underlyingSink');
    setUpWSDC(this, c,
      () => (start ? Reflect.apply(start, sink, [c]) : undefined),
      (chunk) => (write ? promiseCall(write, sink, [chunk, c]) : resolved(undefined)),
      () => (close ? promiseCall(close, sink, []) : resolved(undefined)),
      (r) => (abort ? promiseCall(abort, sink, [r]) : resolved(undefined)),
      hwm, size);
  }
  get locked() { check(WS_BRAND, this, 'WritableStream'); return isWSLocked(this); }
  abort(reason = undefined) {
    if (!isWS(this)) return rejected(new TypeError('Illegal invocation'));
    if (isWSLocked(this)) return rejected(new TypeError('Cannot abort a stream that already has a writer'));
    return wsAbort(this, reason);
  }
  close() {
    if (!isWS(this)) return rejected(new TypeError('Illegal invocation'));
    if (isWSLocked(this)) return rejected(new TypeError('Cannot close a stream that already has a writer'));
    if (wsCloseQueuedOrInFlight(this)) return rejected(new TypeError('Cannot close an already-closing stream'));
    return wsClose(this);
  }
  getWriter() { check(WS_BRAND, this, 'WritableStream'); return acquireWriter(this); }
}
function initWS(s) {
  WS_BRAND.add(s);
  slot(s, $state, 'writable');
  slot(s, $storedError, undefined);
  slot(s, $writer, undefined);
  slot(s, $controller, undefined);
  const internals = {
    _inFlightWriteRequest: undefined, _closeRequest: undefined, _inFlightCloseRequest: undefined,
    _pendingAbortRequest: undefined, _writeRequests: [], _backpressure: false,
  };
  for (const k of Object.keys(internals)) slot(s, k, internals[k]);
}
function createWS(start, write, close, abort, hwm = 1, size = () => 1) {
  const s = Object.create(WritableStream.prototype);
  initWS(s);
  setUpWSDC(s, make(WritableStreamDefaultController), start, write, close, abort, hwm, size);
  return s;
}
const isWSLocked = (s) => s[$writer] !== undefined;
function acquireWriter(s) { return new WritableStreamDefaultWriter(s); }
function wsAbort(s, reason) {
  if (s[$state] === 'closed' || s[$state] === 'errored') return resolved(undefined);
  s[$controller]._abortReason = reason;
  $.signalAbort(s[$controller]._signal, reason);
  const state = s[$state];
  if (state === 'closed' || state === 'errored') return resolved(undefined);
  if (s._pendingAbortRequest !== undefined) return s._pendingAbortRequest.promise.promise;
  let wasAlreadyErroring = false;
  if (state === 'erroring') { wasAlreadyErroring = true; reason = undefined; }
  const p = newPromise();
  s._pendingAbortRequest = { promise: p, reason, wasAlreadyErroring };
  if (!wasAlreadyErroring) wsStartErroring(s, reason);
  return p.promise;
}
function wsClose(s) {
  const state = s[$state];
  if (state === 'closed' || state === 'errored')
    return rejected(new TypeError('The stream (in ' + state + ' state) is not in the writable state and cannot be closed'));
  const p = newPromise();
  s._closeRequest = p;
  const w = s[$writer];
  if (w !== undefined && s._backpressure && state === 'writable') w._readyPromise.resolve(undefined);
  wsdcClose(s[$controller]);
  return p.promise;
}
function wsAddWriteRequest(s) {
  const p = newPromise();
  s._writeRequests.push(p);
  return p.promise;
}
function wsDealWithRejection(s, error) {
  if (s[$state] === 'writable') { wsStartErroring(s, error); return; }
  wsFinishErroring(s);
}
function wsStartErroring(s, reason) {
  const c = s[$controller];
  s[$state] = 'erroring';
  s[$storedError] = reason;
  const w = s[$writer];
  if (w !== undefined) wsWriterEnsureReadyPromiseRejected(w, reason);
  if (!wsHasOperationMarkedInFlight(s) && c._started) wsFinishErroring(s);
}
function wsFinishErroring(s) {
  s[$state] = 'errored';
  s[$controller]._errorSteps();
  const storedError = s[$storedError];
  for (const req of s._writeRequests) req.reject(storedError);
  s._writeRequests = [];
  if (s._pendingAbortRequest === undefined) { wsRejectCloseAndClosedPromiseIfNeeded(s); return; }
  const abortRequest = s._pendingAbortRequest;
  s._pendingAbortRequest = undefined;
  if (abortRequest.wasAlreadyErroring) {
    abortRequest.promise.reject(storedError);
    wsRejectCloseAndClosedPromiseIfNeeded(s);
    return;
  }
  const p = s[$controller]._abortSteps(abortRequest.reason);
  uponPromise(p, () => {
    abortRequest.promise.resolve(undefined);
    wsRejectCloseAndClosedPromiseIfNeeded(s);
  }, (reason) => {
    abortRequest.promise.reject(reason);
    wsRejectCloseAndClosedPromiseIfNeeded(s);
  });
}
function wsFinishInFlightWrite(s) { s._inFlightWriteRequest.resolve(undefined); s._inFlightWriteRequest = undefined; }
function wsFinishInFlightWriteWithError(s, error) {
  s._inFlightWriteRequest.reject(error);
  s._inFlightWriteRequest = undefined;
  wsDealWithRejection(s, error);
}
function wsFinishInFlightClose(s) {
  s._inFlightCloseRequest.resolve(undefined);
  s._inFlightCloseRequest = undefined;
  const state = s[$state];
  if (state === 'erroring') {
    s[$storedError] = undefined;
    if (s._pendingAbortRequest !== undefined) {
      s._pendingAbortRequest.promise.resolve(undefined);
      s._pendingAbortRequest = undefined;
    }
  }
  s[$state] = 'closed';
  const w = s[$writer];
  if (w !== undefined) w._closedPromise.resolve(undefined);
}
function wsFinishInFlightCloseWithError(s, error) {
  s._inFlightCloseRequest.reject(error);
  s._inFlightCloseRequest = undefined;
  if (s._pendingAbortRequest !== undefined) {
    s._pendingAbortRequest.promise.reject(error);
    s._pendingAbortRequest = undefined;
  }
  wsDealWithRejection(s, error);
}
const wsCloseQueuedOrInFlight = (s) => s._closeRequest !== undefined || s._inFlightCloseRequest !== undefined;
const wsHasOperationMarkedInFlight = (s) => s._inFlightWriteRequest !== undefined || s._inFlightCloseRequest !== undefined;
function wsMarkCloseRequestInFlight(s) { s._inFlightCloseRequest = s._closeRequest; s._closeRequest = undefined; }
function wsMarkFirstWriteRequestInFlight(s) { s._inFlightWriteRequest = s._writeRequests.shift(); }
function wsRejectCloseAndClosedPromiseIfNeeded(s) {
  if (s._closeRequest !== undefined) { s._closeRequest.reject(s[$storedError]); s._closeRequest = undefined; }
  const w = s[$writer];
  if (w !== undefined) { w._closedPromise.reject(s[$storedError]); setHandled(w._closedPromise.promise); }
}
function wsUpdateBackpressure(s, backpressure) {
  const w = s[$writer];
  if (w !== undefined && backpressure !== s._backpressure) {
    if (backpressure) w._readyPromise = newPromise();
    else w._readyPromise.resolve(undefined);
  }
  s._backpressure = backpressure;
}

class WritableStreamDefaultWriter {
  constructor(stream) {
    if (!isWS(stream)) throw new TypeError("Failed to construct 'WritableStreamDefaultWriter': parameter 1 is not of type 'WritableStream'.");
    if (isWSLocked(stream)) throw new TypeError('This stream has already been locked for exclusive writing by another writer');
    WSW_BRAND.add(this);
    this._stream = stream;
    stream[$writer] = this;
    const state = stream[$state];
    this._readyPromise = newPromise();
    this._closedPromise = newPromise();
    if (state === 'writable') {
      if (!wsCloseQueuedOrInFlight(stream) && stream._backpressure) { /* pending */ }
      else this._readyPromise.resolve(undefined);
    } else if (state === 'erroring') {
      this._readyPromise.reject(stream[$storedError]);
      setHandled(this._readyPromise.promise);
    } else if (state === 'closed') {
      this._readyPromise.resolve(undefined);
      this._closedPromise.resolve(undefined);
    } else {
      this._readyPromise.reject(stream[$storedError]);
      setHandled(this._readyPromise.promise);
      this._closedPromise.reject(stream[$storedError]);
      setHandled(this._closedPromise.promise);
    }
    hideInternals(this);
  }
  get closed() {
    if (!WSW_BRAND.has(this)) return rejected(new TypeError('Illegal invocation'));
    return this._closedPromise.promise;
  }
  get desiredSize() {
    check(WSW_BRAND, this, 'WritableStreamDefaultWriter');
    if (this._stream === undefined) throw new TypeError('This writer has been released');
    const s = this._stream, state = s[$state];
    if (state === 'errored' || state === 'erroring') return null;
    if (state === 'closed') return 0;
    return wsdcGetDesiredSize(s[$controller]);
  }
  get ready() {
    if (!WSW_BRAND.has(this)) return rejected(new TypeError('Illegal invocation'));
    return this._readyPromise.promise;
  }
  abort(reason = undefined) {
    if (!WSW_BRAND.has(this)) return rejected(new TypeError('Illegal invocation'));
    if (this._stream === undefined) return rejected(new TypeError('This writer has been released'));
    return wsAbort(this._stream, reason);
  }
  close() {
    if (!WSW_BRAND.has(this)) return rejected(new TypeError('Illegal invocation'));
    const s = this._stream;
    if (s === undefined) return rejected(new TypeError('This writer has been released'));
    if (wsCloseQueuedOrInFlight(s)) return rejected(new TypeError('Cannot close an already-closing stream'));
    return wsClose(s);
  }
  releaseLock() {
    check(WSW_BRAND, this, 'WritableStreamDefaultWriter');
    if (this._stream === undefined) return;
    wsWriterRelease(this);
  }
  write(chunk = undefined) {
    if (!WSW_BRAND.has(this)) return rejected(new TypeError('Illegal invocation'));
    if (this._stream === undefined) return rejected(new TypeError('This writer has been released'));
    return wsWriterWrite(this, chunk);
  }
}
function wsWriterCloseWithErrorPropagation(w) {
  const s = w._stream;
  const state = s[$state];
  if (wsCloseQueuedOrInFlight(s) || state === 'closed') return resolved(undefined);
  if (state === 'errored') return rejected(s[$storedError]);
  return wsClose(s);
}
function wsWriterEnsureClosedPromiseRejected(w, error) {
  if (w._closedPromise.settled) w._closedPromise = newPromise();
  w._closedPromise.reject(error);
  setHandled(w._closedPromise.promise);
}
function wsWriterEnsureReadyPromiseRejected(w, error) {
  w._readyPromise = newPromise();
  w._readyPromise.reject(error);
  setHandled(w._readyPromise.promise);
}
function wsWriterRelease(w) {
  const s = w._stream;
  const e = new TypeError('Writer was released and can no longer be used to monitor the stream\'s closedness');
  wsWriterEnsureReadyPromiseRejected(w, e);
  wsWriterEnsureClosedPromiseRejected(w, e);
  s[$writer] = undefined;
  w._stream = undefined;
}
function wsWriterWrite(w, chunk) {
  const s = w._stream;
  const c = s[$controller];
  const chunkSize = wsdcGetChunkSize(c, chunk);
  if (s !== w._stream) return rejected(new TypeError('Cannot write to a stream using a released writer'));
  const state = s[$state];
  if (state === 'errored') return rejected(s[$storedError]);
  if (wsCloseQueuedOrInFlight(s) || state === 'closed')
    return rejected(new TypeError('The stream is closing or closed and cannot be written to'));
  if (state === 'erroring') return rejected(s[$storedError]);
  const p = wsAddWriteRequest(s);
  wsdcWrite(c, chunk, chunkSize);
  return p;
}

const CLOSE_SENTINEL = {};
class WritableStreamDefaultController {
  constructor() { illegal(); WSDC_BRAND.add(this); }
  get abortReason() { check(WSDC_BRAND, this, 'WritableStreamDefaultController'); return this._abortReason; }
  get signal() { check(WSDC_BRAND, this, 'WritableStreamDefaultController'); return this._signal; }
  error(e = undefined) {
    check(WSDC_BRAND, this, 'WritableStreamDefaultController');
    if (this._stream[$state] !== 'writable') return;
    wsdcError(this, e);
  }
  _abortSteps(reason) {
    const result = this._abortAlgorithm(reason);
    wsdcClearAlgorithms(this);
    return result;
  }
  _errorSteps() { resetQueue(this); }
}
function setUpWSDC(s, c, start, write, close, abort, hwm, size) {
  c._stream = s;
  s[$controller] = c;
  resetQueue(c);
  c._abortReason = undefined;
  c._signal = new AbortController().signal;
  c._started = false;
  c._strategySizeAlgorithm = size;
  c._strategyHWM = hwm;
  c._writeAlgorithm = write;
  c._closeAlgorithm = close;
  c._abortAlgorithm = abort;
  hideInternals(c);
  wsUpdateBackpressure(s, wsdcGetBackpressure(c));
  const startResult = start();
  uponPromise(resolved(startResult), () => {
    c._started = true;
    wsdcAdvanceQueueIfNeeded(c);
  }, (r) => {
    c._started = true;
    wsDealWithRejection(s, r);
  });
}
function wsdcClearAlgorithms(c) {
  c._writeAlgorithm = undefined; c._closeAlgorithm = undefined;
  c._abortAlgorithm = undefined; c._strategySizeAlgorithm = undefined;
}
function wsdcClose(c) {
  enqueueValueWithSize(c, CLOSE_SENTINEL, 0);
  wsdcAdvanceQueueIfNeeded(c);
}
function wsdcGetChunkSize(c, chunk) {
  if (c._strategySizeAlgorithm === undefined) return 1;
  try { return c._strategySizeAlgorithm(chunk); } catch (e) { wsdcErrorIfNeeded(c, e); return 1; }
}
const wsdcGetDesiredSize = (c) => c._strategyHWM - c._queueTotalSize;
function wsdcWrite(c, chunk, chunkSize) {
  try { enqueueValueWithSize(c, chunk, chunkSize); } catch (e) { wsdcErrorIfNeeded(c, e); return; }
  const s = c._stream;
  if (!wsCloseQueuedOrInFlight(s) && s[$state] === 'writable') wsUpdateBackpressure(s, wsdcGetBackpressure(c));
  wsdcAdvanceQueueIfNeeded(c);
}
function wsdcAdvanceQueueIfNeeded(c) {
  const s = c._stream;
  if (!c._started || s._inFlightWriteRequest !== undefined) return;
  const state = s[$state];
  if (state === 'erroring') { wsFinishErroring(s); return; }
  if (c._queue.length === 0) return;
  const value = peekQueueValue(c);
  if (value === CLOSE_SENTINEL) wsdcProcessClose(c);
  else wsdcProcessWrite(c, value);
}
function wsdcErrorIfNeeded(c, e) { if (c._stream[$state] === 'writable') wsdcError(c, e); }
function wsdcProcessClose(c) {
  const s = c._stream;
  wsMarkCloseRequestInFlight(s);
  dequeueValue(c);
  const p = c._closeAlgorithm();
  wsdcClearAlgorithms(c);
  uponPromise(p, () => wsFinishInFlightClose(s), (r) => wsFinishInFlightCloseWithError(s, r));
}
function wsdcProcessWrite(c, chunk) {
  const s = c._stream;
  wsMarkFirstWriteRequestInFlight(s);
  uponPromise(c._writeAlgorithm(chunk), () => {
    wsFinishInFlightWrite(s);
    const state = s[$state];
    dequeueValue(c);
    if (!wsCloseQueuedOrInFlight(s) && state === 'writable') wsUpdateBackpressure(s, wsdcGetBackpressure(c));
    wsdcAdvanceQueueIfNeeded(c);
  }, (reason) => {
    if (s[$state] === 'writable') wsdcClearAlgorithms(c);
    wsFinishInFlightWriteWithError(s, reason);
  });
}
const wsdcGetBackpressure = (c) => wsdcGetDesiredSize(c) <= 0;
function wsdcError(c, e) {
  const s = c._stream;
  wsdcClearAlgorithms(c);
  wsStartErroring(s, e);
}

// =====================================================================
// TransformStream
class TransformStream {
  constructor(transformer = undefined, writableStrategy = undefined, readableStrategy = undefined) {
    if (transformer === null) transformer = undefined;
    const t = transformer === undefined ? {} : transformer;
    const ws = writableStrategy === undefined ? {} : writableStrategy;
    const rs = readableStrategy === undefined ? {} : readableStrategy;
    if (t.readableType !== undefined) throw new RangeError('Invalid readableType specified');
    if (t.writableType !== undefined) throw new RangeError('Invalid writableType specified');
    const readableHWM = extractHighWaterMark(rs, 0);
    const readableSize = extractSizeAlgorithm(rs);
    const writableHWM = extractHighWaterMark(ws, 1);
    const writableSize = extractSizeAlgorithm(ws);
    const startPromise = newPromise();
    TS_BRAND.add(this);
    initTS(this, startPromise.promise, writableHWM, writableSize, readableHWM, readableSize);
    setUpTSDCFromTransformer(this, t);
    const start = getMethod(t, 'start', 'transformer');
    startPromise.resolve(start ? Reflect.apply(start, t, [this._controller]) : undefined);
  }
  get readable() { check(TS_BRAND, this, 'TransformStream'); return this._readable; }
  get writable() { check(TS_BRAND, this, 'TransformStream'); return this._writable; }
}
function initTS(ts, startPromise, wHWM, wSize, rHWM, rSize) {
  const startAlgorithm = () => startPromise;
  const writable = createWS(startAlgorithm, (chunk) => tsSinkWrite(ts, chunk),
    () => tsSinkClose(ts), (r) => tsSinkAbort(ts, r), wHWM, wSize);
  const readable = createRS(startAlgorithm, () => tsSourcePull(ts), (r) => tsSourceCancel(ts, r), rHWM, rSize);
  for (const [k, v] of Object.entries({ _writable: writable, _readable: readable, _backpressure: undefined,
    _backpressureChangePromise: undefined, _controller: undefined })) slot(ts, k, v);
  tsSetBackpressure(ts, true);
}
function tsError(ts, e) {
  rsdcError(ts._readable[$controller], e);
  tsErrorWritableAndUnblockWrite(ts, e);
}
function tsErrorWritableAndUnblockWrite(ts, e) {
  tsdcClearAlgorithms(ts._controller);
  wsdcErrorIfNeeded(ts._writable[$controller], e);
  tsUnblockWrite(ts);
}
function tsUnblockWrite(ts) { if (ts._backpressure) tsSetBackpressure(ts, false); }
function tsSetBackpressure(ts, bp) {
  if (ts._backpressureChangePromise !== undefined) ts._backpressureChangePromise.resolve(undefined);
  ts._backpressureChangePromise = newPromise();
  ts._backpressure = bp;
}
class TransformStreamDefaultController {
  constructor() { illegal(); TSDC_BRAND.add(this); }
  get desiredSize() {
    check(TSDC_BRAND, this, 'TransformStreamDefaultController');
    return rsdcDesiredSize(this._stream._readable[$controller]);
  }
  enqueue(chunk = undefined) { check(TSDC_BRAND, this, 'TransformStreamDefaultController'); tsdcEnqueue(this, chunk); }
  error(reason = undefined) { check(TSDC_BRAND, this, 'TransformStreamDefaultController'); tsError(this._stream, reason); }
  terminate() { check(TSDC_BRAND, this, 'TransformStreamDefaultController'); tsdcTerminate(this); }
}
function setUpTSDCFromTransformer(ts, t) {
  const c = make(TransformStreamDefaultController);
  const transform = getMethod(t, 'transform', 'transformer');
  const flush = getMethod(t, 'flush', 'transformer');
  const cancel = getMethod(t, 'cancel', 'transformer');
  c._stream = ts;
  ts._controller = c;
  c._transformAlgorithm = transform
    ? (chunk) => promiseCall(transform, t, [chunk, c])
    : (chunk) => { try { tsdcEnqueue(c, chunk); return resolved(undefined); } catch (e) { return rejected(e); } };
  c._flushAlgorithm = () => (flush ? promiseCall(flush, t, [c]) : resolved(undefined));
  c._cancelAlgorithm = (r) => (cancel ? promiseCall(cancel, t, [r]) : resolved(undefined));
  c._finishPromise = undefined;
  hideInternals(c);
}
function tsdcClearAlgorithms(c) { c._transformAlgorithm = undefined; c._flushAlgorithm = undefined; c._cancelAlgorithm = undefined; }
function tsdcEnqueue(c, chunk) {
  const ts = c._stream;
  const rc = ts._readable[$controller];
  if (!rsdcCanCloseOrEnqueue(rc)) throw new TypeError('Readable side is not in a state that permits enqueue');
  try { rsdcEnqueue(rc, chunk); } catch (e) { tsErrorWritableAndUnblockWrite(ts, e); throw ts._readable[$storedError]; }
  const bp = rsdcHasBackpressure(rc);
  if (bp !== ts._backpressure) tsSetBackpressure(ts, true);
}
function tsdcPerformTransform(c, chunk) {
  return transformPromise(c._transformAlgorithm(chunk), undefined, (r) => { tsError(c._stream, r); throw r; });
}
function tsdcTerminate(c) {
  const ts = c._stream;
  rsdcClose(ts._readable[$controller]);
  tsErrorWritableAndUnblockWrite(ts, new TypeError('TransformStream terminated'));
}
function tsSinkWrite(ts, chunk) {
  const c = ts._controller;
  if (ts._backpressure) {
    return transformPromise(ts._backpressureChangePromise.promise, () => {
      const w = ts._writable;
      if (w[$state] === 'erroring') throw w[$storedError];
      return tsdcPerformTransform(c, chunk);
    });
  }
  return tsdcPerformTransform(c, chunk);
}
function tsSinkAbort(ts, reason) {
  const c = ts._controller;
  if (c._finishPromise !== undefined) return c._finishPromise.promise;
  const readable = ts._readable;
  c._finishPromise = newPromise();
  const cancelPromise = c._cancelAlgorithm(reason);
  tsdcClearAlgorithms(c);
  uponPromise(cancelPromise, () => {
    if (readable[$state] === 'errored') c._finishPromise.reject(readable[$storedError]);
    else { rsdcError(readable[$controller], reason); c._finishPromise.resolve(undefined); }
  }, (r) => { rsdcError(readable[$controller], r); c._finishPromise.reject(r); });
  return c._finishPromise.promise;
}
function tsSinkClose(ts) {
  const c = ts._controller;
  if (c._finishPromise !== undefined) return c._finishPromise.promise;
  const readable = ts._readable;
  c._finishPromise = newPromise();
  const flushPromise = c._flushAlgorithm();
  tsdcClearAlgorithms(c);
  uponPromise(flushPromise, () => {
    if (readable[$state] === 'errored') c._finishPromise.reject(readable[$storedError]);
    else { rsdcClose(readable[$controller]); c._finishPromise.resolve(undefined); }
  }, (r) => { rsdcError(readable[$controller], r); c._finishPromise.reject(r); });
  return c._finishPromise.promise;
}
function tsSourcePull(ts) {
  tsSetBackpressure(ts, false);
  return ts._backpressureChangePromise.promise;
}
function tsSourceCancel(ts, reason) {
  const c = ts._controller;
  if (c._finishPromise !== undefined) return c._finishPromise.promise;
  const writable = ts._writable;
  c._finishPromise = newPromise();
  const cancelPromise = c._cancelAlgorithm(reason);
  tsdcClearAlgorithms(c);
  uponPromise(cancelPromise, () => {
    if (writable[$state] === 'errored') c._finishPromise.reject(writable[$storedError]);
    else {
      wsdcErrorIfNeeded(writable[$controller], reason);
      tsUnblockWrite(ts);
      c._finishPromise.resolve(undefined);
    }
  }, (r) => {
    wsdcErrorIfNeeded(writable[$controller], r);
    tsUnblockWrite(ts);
    c._finishPromise.reject(r);
  });
  return c._finishPromise.promise;
}

// =====================================================================
// queuing strategies
const byteLengthSize = { size(chunk) { return chunk.byteLength; } }.size;
const countSize = { size() { return 1; } }.size;
class ByteLengthQueuingStrategy {
  constructor(init) {
    if (!$.isObject(init) || init.highWaterMark === undefined)
      throw new TypeError("Failed to construct 'ByteLengthQueuingStrategy': Failed to read the 'highWaterMark' property from 'QueuingStrategyInit': Required member is undefined.");
    slot(this, '_hwm', Number(init.highWaterMark));
  }
  get highWaterMark() { return this._hwm; }
  get size() { return byteLengthSize; }
}
class CountQueuingStrategy {
  constructor(init) {
    if (!$.isObject(init) || init.highWaterMark === undefined)
      throw new TypeError("Failed to construct 'CountQueuingStrategy': Failed to read the 'highWaterMark' property from 'QueuingStrategyInit': Required member is undefined.");
    slot(this, '_hwm', Number(init.highWaterMark));
  }
  get highWaterMark() { return this._hwm; }
  get size() { return countSize; }
}

// The standard's idl classes: brand the readers' and writers' instances
// (done in their constructors), tag all, publish.
const classes = { ReadableStream, ReadableStreamDefaultReader, ReadableStreamBYOBReader,
  ReadableStreamDefaultController, ReadableByteStreamController, ReadableStreamBYOBRequest,
  WritableStream, WritableStreamDefaultWriter, WritableStreamDefaultController,
  TransformStream, TransformStreamDefaultController, ByteLengthQueuingStrategy, CountQueuingStrategy };
for (const name of Object.keys(classes)) {
  const cls = classes[name];
  for (const k of Object.getOwnPropertyNames(cls.prototype))
    if (k !== 'constructor' && k[0] !== '_') Object.defineProperty(cls.prototype, k, { enumerable: true });
  $.tag(cls, name);
}
return classes;
