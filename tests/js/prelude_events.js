// tests/js/prelude_events.js: Event, EventTarget, AbortController,
// AbortSignal (with any and timeout), DOMException, from inside an isolate.
(function () {
  const fails = [];
  const eq = (a, b, what) => {
    const x = JSON.stringify(a), y = JSON.stringify(b);
    if (x !== y) fails.push(what + ': got ' + x + ', want ' + y);
  };
  const cases = {
    eventBasics() {
      const e = new Event('x', { cancelable: true, bubbles: true });
      eq([e.type, e.bubbles, e.cancelable, e.composed, e.defaultPrevented, e.eventPhase, e.isTrusted, e.target],
         ['x', true, true, false, false, 0, false, null], 'fields');
      e.preventDefault();
      eq(e.defaultPrevented, true, 'preventDefault');
      const n = new Event('y');
      n.preventDefault();
      eq(n.defaultPrevented, false, 'not cancelable');
      eq(Object.prototype.toString.call(e), '[object Event]', 'tag');
      eq([Event.AT_TARGET, e.BUBBLING_PHASE], [2, 3], 'constants');
      let threw = false;
      try { new Event(); } catch (err) { threw = err instanceof TypeError; }
      eq(threw, true, 'type required');
    },
    listeners() {
      const t = new EventTarget();
      const log = [];
      const f = (e) => log.push('f:' + e.type + ':' + (e.target === t) + ':' + (e.currentTarget === t) + ':' + e.eventPhase);
      t.addEventListener('a', f);
      t.addEventListener('a', f);  // duplicate: ignored
      t.addEventListener('a', { handleEvent(e) { log.push('obj:' + (this !== t)); } });
      t.addEventListener('a', () => log.push('capture'), { capture: true });
      const ok = t.dispatchEvent(new Event('a'));
      eq(log, ['capture', 'f:a:true:true:2', 'obj:true'], 'order: capture first, then in order');
      eq(ok, true, 'dispatch result');
      log.length = 0;
      t.removeEventListener('a', f);
      t.removeEventListener('a', f, true);  // other capture flag: nothing
      t.dispatchEvent(new Event('a'));
      eq(log, ['capture', 'obj:true'], 'removed');
    },
    once() {
      const t = new EventTarget();
      let n = 0;
      t.addEventListener('x', () => n++, { once: true });
      t.dispatchEvent(new Event('x'));
      t.dispatchEvent(new Event('x'));
      eq(n, 1, 'once');
    },
    signalOption() {
      const t = new EventTarget();
      const ac = new AbortController();
      let n = 0;
      t.addEventListener('x', () => n++, { signal: ac.signal });
      t.dispatchEvent(new Event('x'));
      ac.abort();
      t.dispatchEvent(new Event('x'));
      eq(n, 1, 'removed on abort');
      t.addEventListener('x', () => n++, { signal: ac.signal });
      t.dispatchEvent(new Event('x'));
      eq(n, 1, 'not added with an aborted signal');
    },
    stopImmediateAndCancel() {
      const t = new EventTarget();
      const log = [];
      t.addEventListener('x', (e) => { log.push(1); e.stopImmediatePropagation(); e.preventDefault(); });
      t.addEventListener('x', () => log.push(2));
      eq(t.dispatchEvent(new Event('x', { cancelable: true })), false, 'canceled');
      eq(log, [1], 'stopImmediatePropagation');
      t.addEventListener('p', (e) => e.preventDefault(), { passive: true });
      eq(t.dispatchEvent(new Event('p', { cancelable: true })), true, 'passive cannot cancel');
    },
    redispatch() {
      const t = new EventTarget();
      let err = null;
      const e = new Event('x');
      t.addEventListener('x', () => { try { t.dispatchEvent(e); } catch (x) { err = x.name; } });
      t.dispatchEvent(e);
      eq(err, 'InvalidStateError', 'dispatching twice');
      eq(e.target === t && e.currentTarget === null && e.eventPhase === 0, true, 'after dispatch');
    },
    subclass() {
      class Emitter extends EventTarget {}
      const em = new Emitter();
      let got = null;
      class MyEvent extends Event { constructor() { super('my'); this.detail = 42; } }
      em.addEventListener('my', (e) => { got = e.detail; });
      em.dispatchEvent(new MyEvent());
      eq(got, 42, 'subclasses');
    },
    abortController() {
      const ac = new AbortController();
      const s = ac.signal;
      const log = [];
      s.onabort = (e) => log.push('onabort:' + e.type);
      s.addEventListener('abort', () => log.push('listener'));
      eq([s.aborted, s.reason], [false, undefined], 'fresh');
      ac.abort('why');
      ac.abort('again');
      eq([s.aborted, s.reason, log], [true, 'why', ['onabort:abort', 'listener']], 'aborted once');
      let thrown = null;
      try { s.throwIfAborted(); } catch (e) { thrown = e; }
      eq(thrown, 'why', 'throwIfAborted');
      const ac2 = new AbortController();
      ac2.abort();
      eq([ac2.signal.reason instanceof DOMException, ac2.signal.reason.name, ac2.signal.reason.code], [true, 'AbortError', 20], 'default reason');
      let illegal = null;
      try { new AbortSignal(); } catch (e) { illegal = e.name; }
      eq(illegal, 'TypeError', 'AbortSignal is not constructible');
      eq(AbortSignal.abort().aborted && AbortSignal.abort(5).reason === 5, true, 'AbortSignal.abort');
      eq(s instanceof EventTarget, true, 'signal is an EventTarget');
    },
    abortSignalAny() {
      const a = new AbortController(), b = new AbortController();
      const any = AbortSignal.any([a.signal, b.signal]);
      const nested = AbortSignal.any([any]);
      let fired = 0;
      any.addEventListener('abort', () => fired++);
      nested.addEventListener('abort', () => fired++);
      eq(any.aborted, false, 'not yet');
      b.abort('b');
      eq([any.aborted, any.reason, nested.aborted, nested.reason, fired], [true, 'b', true, 'b', 2], 'follows a source');
      a.abort('a');
      eq(any.reason, 'b', 'first abort wins');
      eq(AbortSignal.any([AbortSignal.abort('x')]).reason, 'x', 'already aborted');
      eq(AbortSignal.any([]).aborted, false, 'empty');
    },
    abortSignalTimeout() {
      // setTimeout is looked up when timeout() is called: a stand-in here.
      const saved = globalThis.setTimeout;
      let cb = null, ms = null;
      globalThis.setTimeout = (f, t) => { cb = f; ms = t; return 1; };
      try {
        const s = AbortSignal.timeout(25);
        eq([ms, s.aborted], [25, false], 'scheduled');
        cb();
        eq([s.aborted, s.reason.name, s.reason.code], [true, 'TimeoutError', 23], 'timed out');
        let threw = null;
        try { AbortSignal.timeout(-1); } catch (e) { threw = e.name; }
        eq(threw, 'TypeError', 'negative');
      } finally {
        if (saved === undefined) delete globalThis.setTimeout; else globalThis.setTimeout = saved;
      }
    },
    domException() {
      const e = new DOMException('msg', 'NotFoundError');
      eq([e.name, e.message, e.code, e instanceof Error, String(e), DOMException.NOT_FOUND_ERR], ['NotFoundError', 'msg', 8, true, 'NotFoundError: msg', 8], 'fields');
      const d = new DOMException();
      eq([d.name, d.message, d.code], ['Error', '', 0], 'defaults');
      eq(typeof e.stack, 'string', 'has a stack');
    },
    listenerErrorIsReported() {
      // An exception in a listener does not reach dispatchEvent's caller,
      // and the later listeners still run.
      const t = new EventTarget();
      let after = false;
      t.addEventListener('x', () => { throw new Error('listener'); });
      t.addEventListener('x', () => { after = true; });
      const saved = globalThis.reportError;
      let reported = null;
      globalThis.reportError = (err) => { reported = err.message; };
      try { t.dispatchEvent(new Event('x')); } finally {
        if (saved === undefined) delete globalThis.reportError; else globalThis.reportError = saved;
      }
      eq([after, reported], [true, 'listener'], 'reported');
    },
  };
  globalThis.render = function () {
    for (const name of Object.keys(cases)) {
      try { cases[name](); } catch (e) { fails.push(name + ': threw ' + (e && e.stack || e)); }
    }
    return fails.length ? fails.join('\n') : 'ok';
  };
})();
