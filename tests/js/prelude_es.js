// tests/js/prelude_es.js: the ES2023 built-ins the prelude adds to V8 10.2,
// with the attributes of natives. (tests/js/diff_corpus.js compares many
// more cases with Node 20.)
globalThis.render = function () {
  const fails = [];
  const eq = (a, b, what) => {
    const x = JSON.stringify(a), y = JSON.stringify(b);
    if (x !== y) fails.push(what + ': got ' + x + ', want ' + y);
  };
  const attrs = (o, k) => {
    const d = Object.getOwnPropertyDescriptor(o, k);
    return d ? [d.writable, d.enumerable, d.configurable, d.value.name, d.value.length] : null;
  };
  eq(attrs(Array.prototype, 'toSorted'), [true, false, true, 'toSorted', 1], 'toSorted attrs');
  eq(attrs(Array.prototype, 'toSpliced'), [true, false, true, 'toSpliced', 2], 'toSpliced attrs');
  eq(attrs(Array.prototype, 'with'), [true, false, true, 'with', 2], 'with attrs');
  eq(attrs(Array.prototype, 'toReversed'), [true, false, true, 'toReversed', 0], 'toReversed attrs');
  eq(attrs(String.prototype, 'toWellFormed'), [true, false, true, 'toWellFormed', 0], 'toWellFormed attrs');
  const TA = Object.getPrototypeOf(Uint8Array.prototype);
  eq(attrs(TA, 'with'), [true, false, true, 'with', 2], 'TA with attrs');
  eq('prototype' in Array.prototype.toSorted, false, 'not a constructor');
  let threw = false;
  try { new Array.prototype.toSorted(); } catch (e) { threw = e instanceof TypeError; }
  eq(threw, true, 'new toSorted throws');
  const a = [3, 1, 2];
  eq([a.toSorted(), a.toReversed(), a.with(0, 9), a.toSpliced(1, 1), a], [[1, 2, 3], [2, 1, 3], [9, 1, 2], [3, 2], [3, 1, 2]], 'copies');
  eq([, 1].toSorted(), [1, undefined], 'holes become undefined');
  const t = new Int8Array([3, -1, 2]);
  eq([Array.from(t.toSorted()), Array.from(t.toReversed()), Array.from(t.with(1, 5)), t.toSorted() instanceof Int8Array],
     [[-1, 2, 3], [2, -1, 3], [3, 5, 2], true], 'typed arrays');
  eq(['a\ud800'.isWellFormed(), 'a\ud800'.toWellFormed(), '\ud83d\ude00'.isWellFormed()], [false, 'a\ufffd', true], 'well-formed');
  let rangeErr = null;
  try { [1].with(5, 0); } catch (e) { rangeErr = e.name; }
  eq(rangeErr, 'RangeError', 'with out of range');
  eq(typeof Symbol.dispose === 'symbol' && typeof Symbol.asyncDispose === 'symbol', true, 'Symbol.dispose');
  eq(Object.keys(Array.prototype).length, 0, 'nothing enumerable on Array.prototype');
  return fails.length ? fails.join('\n') : 'ok';
};
