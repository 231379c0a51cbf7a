// shim/js/lazy/domexception.js: DOMException (WebIDL), when the engine has
// none ($.nativeDOMException, see 20_modules.js), and atob/btoa (HTML's
// forgiving-base64).

const nativeDOMException = $.nativeDOMException;

const codes = {
  IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4,
  InvalidCharacterError: 5, NoModificationAllowedError: 7, NotFoundError: 8,
  NotSupportedError: 9, InUseAttributeError: 10, InvalidStateError: 11,
  SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14,
  InvalidAccessError: 15, TypeMismatchError: 17, SecurityError: 18,
  NetworkError: 19, AbortError: 20, URLMismatchError: 21, QuotaExceededError: 22,
  TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
};
const legacy = [
  'INDEX_SIZE_ERR', 'DOMSTRING_SIZE_ERR', 'HIERARCHY_REQUEST_ERR', 'WRONG_DOCUMENT_ERR',
  'INVALID_CHARACTER_ERR', 'NO_DATA_ALLOWED_ERR', 'NO_MODIFICATION_ALLOWED_ERR',
  'NOT_FOUND_ERR', 'NOT_SUPPORTED_ERR', 'INUSE_ATTRIBUTE_ERR', 'INVALID_STATE_ERR',
  'SYNTAX_ERR', 'INVALID_MODIFICATION_ERR', 'NAMESPACE_ERR', 'INVALID_ACCESS_ERR',
  'VALIDATION_ERR', 'TYPE_MISMATCH_ERR', 'SECURITY_ERR', 'NETWORK_ERR', 'ABORT_ERR',
  'URL_MISMATCH_ERR', 'QUOTA_EXCEEDED_ERR', 'TIMEOUT_ERR', 'INVALID_NODE_TYPE_ERR',
  'DATA_CLONE_ERR',
];

let DOMExceptionImpl = nativeDOMException;
if (!DOMExceptionImpl) {
  const state = new WeakMap();
  const get = (self) => {
    const s = state.get(self);
    if (!s) throw new TypeError('Illegal invocation');
    return s;
  };
  DOMExceptionImpl = class DOMException extends Error {
    constructor(message = '', options = 'Error') {
      super();
      let name = 'Error';
      if (options !== null && typeof options === 'object') {
        if ('cause' in options)
          Object.defineProperty(this, 'cause', { value: options.cause, writable: true, enumerable: false, configurable: true });
        if (options.name !== undefined) name = String(options.name);
      } else {
        name = String(options);
      }
      // The message is an own property like Error's, for stacks and logs.
      Object.defineProperty(this, 'message', { value: String(message), writable: true, enumerable: false, configurable: true });
      state.set(this, { name });
      if (Error.captureStackTrace) Error.captureStackTrace(this, DOMException);
    }
    get name() { return get(this).name; }
    get code() { return codes[get(this).name] || 0; }
  };
  // message is also an accessor on the prototype in browsers; the own data
  // property above shadows it.
  legacy.forEach((k, i) => {
    const d = { value: i + 1, writable: false, enumerable: true, configurable: false };
    Object.defineProperty(DOMExceptionImpl, k, d);
    Object.defineProperty(DOMExceptionImpl.prototype, k, d);
  });
  $.tag(DOMExceptionImpl, 'DOMException');
}
$.DOMException = DOMExceptionImpl;

// ---- atob / btoa
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64REV = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64REV[B64.charCodeAt(i)] = i;

function btoa(data) {
  if (arguments.length === 0)
    throw new TypeError("Failed to execute 'btoa': 1 argument required, but only 0 present.");
  const s = String(data);
  let out = '';
  for (let i = 0; i < s.length; i += 3) {
    const a = s.charCodeAt(i), b = s.charCodeAt(i + 1), c = s.charCodeAt(i + 2);
    if (a > 255 || b > 255 || c > 255)
      throw new DOMExceptionImpl('Invalid character', 'InvalidCharacterError');
    const n = (a << 16) | ((b || 0) << 8) | (c || 0);
    out += B64[n >> 18] + B64[(n >> 12) & 63] +
      (i + 1 < s.length ? B64[(n >> 6) & 63] : '=') +
      (i + 2 < s.length ? B64[n & 63] : '=');
  }
  return out;
}

function atob(data) {
  if (arguments.length === 0)
    throw new TypeError("Failed to execute 'atob': 1 argument required, but only 0 present.");
  // forgiving-base64 decode: drop ASCII whitespace, up to two trailing '='
  // when the length is a multiple of 4, then a length % 4 of 1 or any
  // character outside the alphabet is an error.
  let s = String(data).replace(/[\t\n\f\r ]/g, '');
  if (s.length % 4 === 0) s = s.replace(/={1,2}$/, '');
  if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s))
    throw new DOMExceptionImpl('The string to be decoded is not correctly encoded.', 'InvalidCharacterError');
  let out = '', buf = 0, bits = 0;
  for (let i = 0; i < s.length; i++) {
    buf = (buf << 6) | B64REV[s.charCodeAt(i)];
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((buf >> bits) & 255);
    }
  }
  return out;
}
return { DOMException: DOMExceptionImpl, atob, btoa };
