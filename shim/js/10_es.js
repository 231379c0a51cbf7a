// shim/js/10_es.js: the ES2023 built-ins Node 20 has and V8 10.2 lacks,
// defined only where missing, with a native's attributes (writable,
// configurable, not enumerable; the spec's name and length).
// Change Array by Copy: Array.prototype.toReversed/toSorted/toSpliced/with
// and the TypedArray ones; String.prototype.isWellFormed/toWellFormed.
// Symbol.dispose/asyncDispose, which Node 20 defines, too.

const toIntegerOrInfinity = (v) => {
  const n = +v;
  if (n !== n || n === 0) return 0;
  return Math.trunc(n);
};
const toLength = (v) => {
  const n = toIntegerOrInfinity(v);
  return n <= 0 ? 0 : Math.min(n, Number.MAX_SAFE_INTEGER);
};
const toObject = (v, what) => {
  if (v === undefined || v === null) throw new TypeError('Array.prototype.' + what + ' called on null or undefined');
  return Object(v);
};
const arrayCreate = (len) => {
  if (len > 4294967295) throw new RangeError('Invalid array length');
  return new Array(len);
};

const arrayMethods = {
  toReversed() {
    const o = toObject(this, 'toReversed');
    const len = toLength(o.length);
    const a = arrayCreate(len);
    for (let k = 0; k < len; k++) a[k] = o[len - k - 1];
    return a;
  },
  toSorted(comparefn) {
    if (comparefn !== undefined && typeof comparefn !== 'function')
      throw new TypeError('The comparison function must be either a function or undefined');
    const o = toObject(this, 'toSorted');
    const len = toLength(o.length);
    const a = arrayCreate(len);
    for (let k = 0; k < len; k++) a[k] = o[k];
    return Array.prototype.sort.call(a, comparefn);
  },
  toSpliced(start, skipCount, ...items) {
    const o = toObject(this, 'toSpliced');
    const len = toLength(o.length);
    const rel = toIntegerOrInfinity(start);
    const actualStart = rel === -Infinity ? 0 : rel < 0 ? Math.max(len + rel, 0) : Math.min(rel, len);
    let actualSkip;
    if (arguments.length === 0) actualSkip = 0;
    else if (arguments.length === 1) actualSkip = len - actualStart;
    else actualSkip = Math.min(Math.max(toIntegerOrInfinity(skipCount), 0), len - actualStart);
    const newLen = len + items.length - actualSkip;
    if (newLen > Number.MAX_SAFE_INTEGER) throw new TypeError('Invalid array length');
    const a = arrayCreate(newLen);
    let i = 0, r = actualStart + actualSkip;
    for (; i < actualStart; i++) a[i] = o[i];
    for (const it of items) a[i++] = it;
    for (; i < newLen; i++, r++) a[i] = o[r];
    return a;
  },
  with(index, value) {
    const o = toObject(this, 'with');
    const len = toLength(o.length);
    const rel = toIntegerOrInfinity(index);
    const actual = rel >= 0 ? rel : len + rel;
    if (actual >= len || actual < 0) throw new RangeError('Invalid index : ' + index);
    const a = arrayCreate(len);
    for (let k = 0; k < len; k++) a[k] = k === actual ? value : o[k];
    return a;
  },
};
$.defineMethods(Array.prototype, arrayMethods);
// The new methods are in Array.prototype[Symbol.unscopables].
{
  const u = Array.prototype[Symbol.unscopables];
  for (const k of ['toReversed', 'toSorted', 'toSpliced'])
    if (!(k in u)) Object.defineProperty(u, k, { value: true, writable: true, enumerable: true, configurable: true });
}

const TypedArray = Object.getPrototypeOf(Int8Array);
const TAProto = TypedArray.prototype;
const taLength = Object.getOwnPropertyDescriptor(TAProto, 'length').get;
const taTag = Object.getOwnPropertyDescriptor(TAProto, Symbol.toStringTag).get;
const validTA = (o) => {
  if (taTag.call(o) === undefined) throw new TypeError('this is not a typed array.');
  const len = taLength.call(o);
  if (len === 0 && o.buffer.byteLength === 0 && ArrayBuffer.isView(o)) {
    // A detached buffer also reads as length 0; byteLength on it is 0 too.
    try { new Uint8Array(o.buffer); } catch (e) { throw new TypeError('Cannot perform operation on a detached ArrayBuffer'); }
  }
  return len;
};
const taCreateSameType = (o, len) => new globalThis[taTag.call(o)](len);

$.defineMethods(TAProto, {
  toReversed() {
    const len = validTA(this);
    const a = taCreateSameType(this, len);
    for (let k = 0; k < len; k++) a[k] = this[len - k - 1];
    return a;
  },
  toSorted(comparefn) {
    if (comparefn !== undefined && typeof comparefn !== 'function')
      throw new TypeError('The comparison function must be either a function or undefined');
    const len = validTA(this);
    const a = taCreateSameType(this, len);
    for (let k = 0; k < len; k++) a[k] = this[k];
    return TAProto.sort.call(a, comparefn);
  },
  with(index, value) {
    const len = validTA(this);
    const rel = toIntegerOrInfinity(index);
    const actual = rel >= 0 ? rel : len + rel;
    const kind = taTag.call(this);
    const v = kind === 'BigInt64Array' ? BigInt.asIntN(64, value) : kind === 'BigUint64Array' ? BigInt.asUintN(64, value) : +value;
    if (!(actual >= 0 && actual < taLength.call(this))) throw new RangeError('Invalid typed array index');
    const a = taCreateSameType(this, len);
    for (let k = 0; k < len; k++) a[k] = k === actual ? v : this[k];
    return a;
  },
});

$.defineMethods(String.prototype, {
  isWellFormed() {
    if (this === undefined || this === null)
      throw new TypeError('String.prototype.isWellFormed called on null or undefined');
    const s = String(this);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { i++; continue; }
        return false;
      }
      if (c >= 0xdc00 && c <= 0xdfff) return false;
    }
    return true;
  },
  toWellFormed() {
    if (this === undefined || this === null)
      throw new TypeError('String.prototype.toWellFormed called on null or undefined');
    const s = String(this);
    let out = '', from = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { i++; continue; }
      } else if (!(c >= 0xdc00 && c <= 0xdfff)) continue;
      out += s.slice(from, i) + '\ufffd';
      from = i + 1;
    }
    return from === 0 ? s : out + s.slice(from);
  },
});

for (const name of ['dispose', 'asyncDispose']) {
  if (!(name in Symbol))
    Object.defineProperty(Symbol, name, {
      value: Symbol('Symbol.' + name), writable: false, enumerable: false, configurable: false,
    });
}
