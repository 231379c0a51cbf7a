// shim/js/lazy/events.js: Event, EventTarget, AbortController, AbortSignal
// (DOM Standard), for a tree-less target: dispatch runs the capture
// listeners, then the others, all AT_TARGET. An exception in a listener is
// reported (logged as uncaught), never thrown to dispatchEvent's caller.

$.loadDOMException();
const EV = new WeakMap();  // Event -> its internal state
const evState = (e) => {
  const s = EV.get(e);
  if (!s) throw new TypeError('Illegal invocation');
  return s;
};
const now = () => (globalThis.performance && typeof performance.now === 'function' ? performance.now() : Date.now());

class Event {
  constructor(type, eventInitDict = undefined) {
    if (arguments.length === 0)
      throw new TypeError("Failed to construct 'Event': 1 argument required, but only 0 present.");
    const init = eventInitDict == null ? {} : eventInitDict;
    if (typeof init !== 'object' && typeof init !== 'function')
      throw new TypeError("Failed to construct 'Event': The provided value is not of type 'EventInit'.");
    EV.set(this, {
      type: String(type), bubbles: !!init.bubbles, cancelable: !!init.cancelable,
      composed: !!init.composed, target: null, currentTarget: null, phase: 0,
      canceled: false, stop: false, stopImmediate: false, dispatching: false,
      initialized: true, passive: false, timeStamp: now(),
    });
    Object.defineProperty(this, 'isTrusted', { get: isTrustedGetter, enumerable: true, configurable: false });
  }
  get type() { return evState(this).type; }
  get target() { return evState(this).target; }
  get srcElement() { return evState(this).target; }
  get currentTarget() { return evState(this).currentTarget; }
  composedPath() {
    const s = evState(this);
    return s.dispatching && s.currentTarget ? [s.currentTarget] : [];
  }
  get eventPhase() { return evState(this).phase; }
  stopPropagation() { evState(this).stop = true; }
  get cancelBubble() { return evState(this).stop; }
  set cancelBubble(v) { if (v) evState(this).stop = true; }
  stopImmediatePropagation() { const s = evState(this); s.stop = true; s.stopImmediate = true; }
  get bubbles() { return evState(this).bubbles; }
  get cancelable() { return evState(this).cancelable; }
  get returnValue() { return !evState(this).canceled; }
  set returnValue(v) { const s = evState(this); if (!v && s.cancelable && !s.passive) s.canceled = true; }
  preventDefault() { const s = evState(this); if (s.cancelable && !s.passive) s.canceled = true; }
  get defaultPrevented() { return evState(this).canceled; }
  get composed() { return evState(this).composed; }
  get timeStamp() { return evState(this).timeStamp; }
}
const isTrustedGetter = Object.getOwnPropertyDescriptor({ get isTrusted() { return false; } }, 'isTrusted').get;
const consts = { NONE: 0, CAPTURING_PHASE: 1, AT_TARGET: 2, BUBBLING_PHASE: 3 };
for (const k of Object.keys(consts)) {
  const d = { value: consts[k], writable: false, enumerable: true, configurable: false };
  Object.defineProperty(Event, k, d);
  Object.defineProperty(Event.prototype, k, d);
}
$.tag(Event);

const ET = new WeakMap();  // EventTarget -> Map(type -> listener records)
const etListeners = (t) => {
  const m = ET.get(t);
  if (!m) throw new TypeError('Illegal invocation');
  return m;
};
const flattenOptions = (o) => (typeof o === 'boolean' ? o : $.isObject(o) ? !!o.capture : !!o);

function reportException(err) {
  if (typeof globalThis.reportError === 'function') { try { globalThis.reportError(err); return; } catch (e) {} }
  queueMicrotask(() => { throw err; });
}

class EventTarget {
  constructor() { ET.set(this, new Map()); }
  addEventListener(type, callback, options = undefined) {
    if (arguments.length < 2)
      throw new TypeError("Failed to execute 'addEventListener' on 'EventTarget': 2 arguments required, but only " + arguments.length + ' present.');
    const map = etListeners(this);
    let capture = false, once = false, passive = false, signal = null;
    if ($.isObject(options)) {
      capture = !!options.capture; once = !!options.once;
      passive = !!options.passive;
      if (options.signal !== undefined) {
        signal = options.signal;
        if (!isAbortSignal(signal))
          throw new TypeError("Failed to execute 'addEventListener' on 'EventTarget': member signal is not of type AbortSignal.");
      }
    } else capture = !!options;
    if (callback == null) return;
    if (!$.isObject(callback))
      throw new TypeError("Failed to execute 'addEventListener' on 'EventTarget': The callback provided as parameter 2 is not an object.");
    if (signal && signal.aborted) return;
    type = String(type);
    let list = map.get(type);
    if (!list) map.set(type, (list = []));
    for (const l of list) if (l.callback === callback && l.capture === capture) return;
    const rec = { type, callback, capture, once, passive, removed: false };
    list.push(rec);
    if (signal) $.signalAdd(signal, () => removeRecord(this, rec));
  }
  removeEventListener(type, callback, options = undefined) {
    if (arguments.length < 2)
      throw new TypeError("Failed to execute 'removeEventListener' on 'EventTarget': 2 arguments required, but only " + arguments.length + ' present.');
    const map = etListeners(this);
    const capture = flattenOptions(options);
    const list = map.get(String(type));
    if (!list) return;
    for (const l of list) if (l.callback === callback && l.capture === capture) { removeRecord(this, l); return; }
  }
  dispatchEvent(event) {
    const map = etListeners(this);
    const s = EV.get(event);
    if (!s) throw new TypeError("Failed to execute 'dispatchEvent' on 'EventTarget': parameter 1 is not of type 'Event'.");
    if (s.dispatching || !s.initialized)
      throw new $.DOMException("Failed to execute 'dispatchEvent' on 'EventTarget': The event is already being dispatched.", 'InvalidStateError');
    s.dispatching = true;
    s.target = this;
    s.currentTarget = this;
    s.phase = 2;
    const list = map.get(s.type);
    if (list) {
      const snapshot = list.slice();
      for (const phaseCapture of [true, false]) {
        for (const l of snapshot) {
          if (s.stopImmediate) break;
          if (l.removed || l.capture !== phaseCapture) continue;
          if (l.once) removeRecord(this, l);
          s.passive = l.passive;
          try {
            const cb = l.callback;
            if (typeof cb === 'function') cb.call(this, event);
            else {
              const h = cb.handleEvent;
              if (typeof h !== 'function') throw new TypeError("'handleEvent' property of the event listener is not a function");
              h.call(cb, event);
            }
          } catch (err) {
            reportException(err);
          }
          s.passive = false;
        }
        if (s.stopImmediate) break;
      }
    }
    s.dispatching = false;
    s.phase = 0;
    s.currentTarget = null;
    s.stop = false;
    s.stopImmediate = false;
    return !s.canceled;
  }
}
function removeRecord(target, rec) {
  rec.removed = true;
  const list = ET.get(target).get(rec.type);
  if (!list) return;
  const i = list.indexOf(rec);
  if (i >= 0) list.splice(i, 1);
}
$.tag(EventTarget);

// An `on<type>` event handler attribute on a prototype: the handler runs in
// the position of the listener added when it was first set.
function defineEventHandler(proto, type) {
  const handlers = new WeakMap();
  Object.defineProperty(proto, 'on' + type, {
    enumerable: true, configurable: true,
    get: { ['on' + type]() { const h = handlers.get(this); return h ? h.fn : null; } }['on' + type],
    set: { ['on' + type](fn) {
      let h = handlers.get(this);
      if (!h) {
        h = { fn: null };
        handlers.set(this, h);
        this.addEventListener(type, function (ev) { if (typeof h.fn === 'function') return h.fn.call(this, ev); });
      }
      h.fn = $.isObject(fn) ? fn : null;
    } }['on' + type],
  });
}
$.defineEventHandler = defineEventHandler;

// ---- AbortController / AbortSignal
const AS = new WeakMap();  // AbortSignal -> state
const asState = (s) => {
  const st = AS.get(s);
  if (!st) throw new TypeError('Illegal invocation');
  return st;
};
const isAbortSignal = (v) => $.isObject(v) && AS.has(v);
let constructingSignal = false;

class AbortSignal extends EventTarget {
  constructor() {
    if (!constructingSignal) throw new TypeError('Illegal constructor');
    super();
    AS.set(this, { aborted: false, reason: undefined, algorithms: new Set(), dependent: false, sources: null, dependents: null });
  }
  get aborted() { return asState(this).aborted; }
  get reason() { return asState(this).reason; }
  throwIfAborted() {
    const st = asState(this);
    if (st.aborted) throw st.reason;
  }
  static abort(reason = undefined) {
    const s = newSignal();
    const st = AS.get(s);
    st.aborted = true;
    st.reason = reason !== undefined ? reason : new $.DOMException('This operation was aborted', 'AbortError');
    return s;
  }
  static timeout(milliseconds) {
    if (arguments.length === 0)
      throw new TypeError("Failed to execute 'timeout' on 'AbortSignal': 1 argument required, but only 0 present.");
    const ms = Number(milliseconds);
    if (!Number.isFinite(ms) || ms < 0 || ms > Number.MAX_SAFE_INTEGER)
      throw new TypeError("Failed to execute 'timeout' on 'AbortSignal': Value is outside the 'unsigned long long' value range.");
    const s = newSignal();
    if (typeof globalThis.setTimeout !== 'function')
      throw new TypeError('AbortSignal.timeout needs setTimeout, which this engine does not have');
    globalThis.setTimeout(() => {
      signalAbort(s, new $.DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    }, Math.trunc(ms));
    return s;
  }
  static any(signals) {
    const list = [];
    for (const s of signals) {
      if (!isAbortSignal(s))
        throw new TypeError("Failed to execute 'any' on 'AbortSignal': Failed to convert value to 'AbortSignal'.");
      list.push(s);
    }
    const result = newSignal();
    const rst = AS.get(result);
    for (const s of list) {
      const st = AS.get(s);
      if (st.aborted) { rst.aborted = true; rst.reason = st.reason; return result; }
    }
    rst.dependent = true;
    rst.sources = [];
    for (const s of list) {
      const st = AS.get(s);
      const sources = st.dependent ? st.sources : [s];
      for (const src of sources) {
        if (rst.sources.includes(src)) continue;
        rst.sources.push(src);
        const sst = AS.get(src);
        (sst.dependents || (sst.dependents = [])).push(result);
      }
    }
    return result;
  }
}
defineEventHandler(AbortSignal.prototype, 'abort');
$.tag(AbortSignal);

function newSignal() {
  constructingSignal = true;
  try { return new AbortSignal(); } finally { constructingSignal = false; }
}
function signalAbort(signal, reason) {
  const st = AS.get(signal);
  if (st.aborted) return;
  st.aborted = true;
  st.reason = reason !== undefined ? reason : new $.DOMException('This operation was aborted', 'AbortError');
  const toAbort = [];
  if (st.dependents)
    for (const d of st.dependents) {
      const dst = AS.get(d);
      if (!dst.aborted) { dst.aborted = true; dst.reason = st.reason; toAbort.push(d); }
    }
  runAbortSteps(signal);
  for (const d of toAbort) runAbortSteps(d);
}
function runAbortSteps(signal) {
  const st = AS.get(signal);
  const algos = Array.from(st.algorithms);
  st.algorithms.clear();
  for (const a of algos) a();
  signal.dispatchEvent(new Event('abort'));
}
// For the prelude's other files (streams' pipeTo, addEventListener's signal).
$.signalAbort = signalAbort;
$.signalAdd = (signal, algo) => {
  const st = AS.get(signal);
  if (st.aborted) return null;
  st.algorithms.add(algo);
  return algo;
};
$.signalRemove = (signal, algo) => { AS.get(signal).algorithms.delete(algo); };
$.isAbortSignal = isAbortSignal;

const AC = new WeakMap();
class AbortController {
  constructor() { AC.set(this, newSignal()); }
  get signal() {
    const s = AC.get(this);
    if (!s) throw new TypeError('Illegal invocation');
    return s;
  }
  abort(reason = undefined) { signalAbort(this.signal, reason); }
}
$.tag(AbortController);

return { Event, EventTarget, AbortController, AbortSignal };
