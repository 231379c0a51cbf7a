// shim/js/lazy/url.js: URL and URLSearchParams per the WHATWG URL Standard:
// the basic URL parser's state machine (with state overrides for the
// setters), host parsing (IPv4 with hex and octal parts, IPv6, opaque hosts,
// domains through IDNA with Punycode), the percent-encode sets, the
// serializers and the application/x-www-form-urlencoded parser.
// IDNA limits (README "JavaScript environment"): UTS #46 is approximated
// without its Unicode table (see domainToASCII).

const EOF_ = -1;
const SPECIAL = { 'ftp': 21, 'file': null, 'http': 80, 'https': 443, 'ws': 80, 'wss': 443 };
const isSpecialScheme = (s) =>
  s === 'http' || s === 'https' || s === 'file' || s === 'ws' || s === 'wss' || s === 'ftp';
const defaultPort = (s) => (isSpecialScheme(s) ? SPECIAL[s] : null);

const isAlpha = (c) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isDigit = (c) => c >= 0x30 && c <= 0x39;
const isHex = (c) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const isAlnum = (c) => isAlpha(c) || isDigit(c);

// ---- percent-encode sets, as predicates over a code point
const inC0 = (c) => c < 0x20 || c > 0x7e;
const inFragment = (c) => inC0(c) || c === 0x20 || c === 0x22 || c === 0x3c || c === 0x3e || c === 0x60;
const inQuery = (c) => inC0(c) || c === 0x20 || c === 0x22 || c === 0x23 || c === 0x3c || c === 0x3e;
const inSpecialQuery = (c) => inQuery(c) || c === 0x27;
const inPath = (c) => inQuery(c) || c === 0x3f || c === 0x60 || c === 0x7b || c === 0x7d;
const inUserinfo = (c) => inPath(c) || c === 0x2f || c === 0x3a || c === 0x3b || c === 0x3d ||
  c === 0x40 || (c >= 0x5b && c <= 0x5e) || c === 0x7c;
const inComponent = (c) => inUserinfo(c) || (c >= 0x24 && c <= 0x26) || c === 0x2b || c === 0x2c;
const inForm = (c) => inComponent(c) || c === 0x21 || (c >= 0x27 && c <= 0x29) || c === 0x7e;

const HEXU = '0123456789ABCDEF';
const pctByte = (b) => '%' + HEXU[b >> 4] + HEXU[b & 15];
// UTF-8 percent-encodes one code point (a lone surrogate is U+FFFD).
function encodeCp(c, set) {
  if (!set(c)) return String.fromCharCode(c);
  if (c < 0x80) return pctByte(c);
  if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
  if (c < 0x800) return pctByte(0xc0 | (c >> 6)) + pctByte(0x80 | (c & 63));
  if (c < 0x10000)
    return pctByte(0xe0 | (c >> 12)) + pctByte(0x80 | ((c >> 6) & 63)) + pctByte(0x80 | (c & 63));
  return pctByte(0xf0 | (c >> 18)) + pctByte(0x80 | ((c >> 12) & 63)) +
    pctByte(0x80 | ((c >> 6) & 63)) + pctByte(0x80 | (c & 63));
}
function encodeString(s, set, spaceAsPlus) {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    out += spaceAsPlus && c === 0x20 ? '+' : encodeCp(c, set);
  }
  return out;
}
// USVString conversion: lone surrogates become U+FFFD.
const toUSV = (v) => {
  const s = String(v);
  return /[\ud800-\udfff]/.test(s) ? s.toWellFormed() : s;
};

let utf8dec = null;
function utf8Decode(bytes) {
  if (!utf8dec) utf8dec = new TextDecoder('utf-8', { ignoreBOM: true });
  return utf8dec.decode(bytes);
}
function utf8Encode(s) {
  const out = [];
  for (const ch of s) {
    let c = ch.codePointAt(0);
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return out;
}
// Percent-decodes a string into bytes (of its UTF-8 form).
function percentDecode(s) {
  const b = utf8Encode(s);
  const out = new Uint8Array(b.length);
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x25 && i + 2 < b.length && isHex(b[i + 1]) && isHex(b[i + 2])) {
      out[n++] = parseInt(String.fromCharCode(b[i + 1], b[i + 2]), 16);
      i += 2;
    } else out[n++] = b[i];
  }
  return out.subarray(0, n);
}

// ---- Punycode (RFC 3492)
const PB = 36, PTMIN = 1, PTMAX = 26, PSKEW = 38, PDAMP = 700, PBIAS = 72, PN = 128;
function adapt(delta, numPoints, first) {
  delta = first ? Math.floor(delta / PDAMP) : delta >> 1;
  delta += Math.floor(delta / numPoints);
  let k = 0;
  while (delta > ((PB - PTMIN) * PTMAX) >> 1) { delta = Math.floor(delta / (PB - PTMIN)); k += PB; }
  return k + Math.floor(((PB - PTMIN + 1) * delta) / (delta + PSKEW));
}
const digitChar = (d) => String.fromCharCode(d < 26 ? d + 97 : d + 22);
function punyEncode(input) {
  const cps = Array.from(input, (ch) => ch.codePointAt(0));
  let out = '';
  for (const c of cps) if (c < 0x80) out += String.fromCharCode(c);
  const b = out.length;
  let h = b;
  if (b > 0) out += '-';
  let n = PN, delta = 0, bias = PBIAS;
  while (h < cps.length) {
    let m = 0x7fffffff;
    for (const c of cps) if (c >= n && c < m) m = c;
    if ((m - n) > Math.floor((0x7fffffff - delta) / (h + 1))) return null;
    delta += (m - n) * (h + 1);
    n = m;
    for (const c of cps) {
      if (c < n && ++delta > 0x7fffffff) return null;
      if (c === n) {
        let q = delta;
        for (let k = PB; ; k += PB) {
          const t = k <= bias ? PTMIN : k >= bias + PTMAX ? PTMAX : k - bias;
          if (q < t) break;
          out += digitChar(t + ((q - t) % (PB - t)));
          q = Math.floor((q - t) / (PB - t));
        }
        out += digitChar(q);
        bias = adapt(delta, h + 1, h === b);
        delta = 0;
        h++;
      }
    }
    delta++; n++;
  }
  return out;
}
function punyDecode(input) {
  const out = [];
  let basic = input.lastIndexOf('-');
  if (basic < 0) basic = 0;
  for (let j = 0; j < basic; j++) {
    const c = input.charCodeAt(j);
    if (c >= 0x80) return null;
    out.push(c);
  }
  let n = PN, bias = PBIAS, i = 0;
  for (let idx = basic > 0 ? basic + 1 : 0; idx < input.length;) {
    const oldi = i;
    let w = 1;
    for (let k = PB; ; k += PB) {
      if (idx >= input.length) return null;
      const cc = input.charCodeAt(idx++);
      const digit = cc - 48 < 10 ? cc - 22 : cc - 65 < 26 ? cc - 65 : cc - 97 < 26 ? cc - 97 : PB;
      if (digit >= PB || digit > Math.floor((0x7fffffff - i) / w)) return null;
      i += digit * w;
      const t = k <= bias ? PTMIN : k >= bias + PTMAX ? PTMAX : k - bias;
      if (digit < t) break;
      if (w > Math.floor(0x7fffffff / (PB - t))) return null;
      w *= PB - t;
    }
    const len = out.length + 1;
    bias = adapt(i - oldi, len, oldi === 0);
    if (Math.floor(i / len) > 0x7fffffff - n) return null;
    n += Math.floor(i / len);
    i %= len;
    if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return null;
    out.splice(i++, 0, n);
  }
  return String.fromCodePoint(...out);
}

// ---- domain to ASCII (UTS #46, non-transitional, approximated)
// The mapping: NFKC, lower case (Cherokee to upper case, as UTS #46 maps
// it), the ignored code points removed. Validity: no unassigned, private-use,
// control or format code point, no label starting with a mark, and the bidi
// rules of RFC 5893 (CheckBidi) with the bidi classes approximated from
// scripts and general categories (JS regexps have no Bidi_Class).
const IGNORED = /[\u00ad\u034f\u180b-\u180d\u180f\u200b\u2060\u2064\ufe00-\ufe0f\ufeff]/g;
// Mappings of UTS #46 that NFKC and toLowerCase do not make: the iota
// subscript (full case folding), lunate sigma, capital sharp s, the old
// Cyrillic letter forms.
const IOTA_SUBSCRIPT = /[\u0345\u1f80-\u1faf\u1fb2-\u1fb4\u1fb7\u1fbc\u1fc2-\u1fc4\u1fc7\u1fcc\u1ff2-\u1ff4\u1ff7\u1ffc]/g;
const MAPPED = { '\u03f2': '\u03c3', '\u1e9e': 'ss', '\u1c80': '\u0432', '\u1c81': '\u0434', '\u1c82': '\u043e',
  '\u1c83': '\u0441', '\u1c84': '\u0442', '\u1c85': '\u0442', '\u1c86': '\u044a', '\u1c87': '\u0463', '\u1c88': '\ua64b' };
// Disallowed code points that are assigned letters or symbols (most of the
// disallowed ones are caught as unassigned, private use, controls or format).
const DISALLOWED = /[\u04c0\u10a0-\u10c5\u115f\u1160\u1680\u17b4\u17b5\u1806\u2024-\u2026\u2132\u2183\u2488-\u249b\u2ff0-\u2ffb]/;
const FORBIDDEN_HOST = /[\u0000\t\n\r #/:<>?@[\\\]^|]/;
const FORBIDDEN_DOMAIN = /[\u0000-\u001f #%/:<>?@[\\\]^|\u007f]/;
const INVALID_CP = /[\p{Cn}\p{Co}\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\ufffd]/u;
const RTL = /[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}\p{Script=Imperial_Aramaic}\p{Script=Phoenician}\p{Script=Kharoshthi}\p{Script=Avestan}\p{Script=Meroitic_Cursive}\p{Script=Meroitic_Hieroglyphs}\p{Script=Old_South_Arabian}\p{Script=Old_North_Arabian}\p{Script=Nabataean}\p{Script=Palmyrene}\p{Script=Hatran}\p{Script=Manichaean}\p{Script=Inscriptional_Parthian}\p{Script=Inscriptional_Pahlavi}\p{Script=Psalter_Pahlavi}\p{Script=Old_Turkic}\p{Script=Old_Hungarian}\p{Script=Hanifi_Rohingya}\p{Script=Sogdian}\p{Script=Old_Sogdian}\p{Script=Elymaic}\p{Script=Chorasmian}\p{Script=Yezidi}\p{Script=Mende_Kikakui}\p{Script=Lydian}\p{Script=Cypriot}]/u;
const BIDI_AN = /[\u0600-\u0605\u0660-\u0669\u066b\u066c\u06dd\u0890\u0891\u08e2\u{10d30}-\u{10d39}\u{10e60}-\u{10e7e}]/u;
const BIDI_EN = /[0-9\u00b2\u00b3\u00b9\u06f0-\u06f9\u2070\u2074-\u2079\u2080-\u2089\u2488-\u249b\uff10-\uff19\u{1d7ce}-\u{1d7ff}]/u;
const BIDI_NSM = /[\p{Mn}\p{Me}]/u;
const BIDI_L = /[\p{L}\p{Mc}\p{Nl}\p{No}\p{Nd}]/u;
function bidiClass(ch) {
  if (BIDI_NSM.test(ch)) return 'NSM';
  if (BIDI_AN.test(ch)) return 'AN';
  if (BIDI_EN.test(ch)) return 'EN';
  if (RTL.test(ch)) return 'R';
  if (ch === '-') return 'ES';
  if (BIDI_L.test(ch)) return 'L';
  return 'ON';
}
// RFC 5893 section 2, for one label of a bidi domain.
function bidiLabelOK(label) {
  const cls = Array.from(label, bidiClass);
  if (cls.length === 0) return true;
  let last = cls.length - 1;
  while (last > 0 && cls[last] === 'NSM') last--;
  // A label of Arabic digits counts as right-to-left (as in Node 20).
  if (cls[0] === 'R' || cls[0] === 'AN') {
    if (cls.includes('L')) return false;
    if (cls.includes('EN') && cls.includes('AN')) return false;
    return cls[last] === 'R' || cls[last] === 'EN' || cls[last] === 'AN';
  }
  if (cls[0] !== 'L') return false;
  if (cls.includes('R') || cls.includes('AN')) return false;
  return cls[last] === 'L' || cls[last] === 'EN';
}
// A bidi domain has a label with a right-to-left letter or an Arabic digit.
const isBidiChar = (label) => RTL.test(label) || BIDI_AN.test(label);
function domainToASCII(domain, beStrict) {
  let s = domain;
  const ascii = !/[^\u0000-\u007f]/.test(s);
  if (ascii && !/xn--/i.test(s)) return s.toLowerCase();
  s = s.replace(IGNORED, '');
  if (DISALLOWED.test(s)) return null;
  s = s.replace(/[\u03f2\u1e9e\u1c80-\u1c88]/g, (c) => MAPPED[c]);
  s = s.normalize('NFKC').toLowerCase();
  s = s.replace(IOTA_SUBSCRIPT, (c) => c.toUpperCase().toLowerCase()).normalize('NFC');
  s = s.replace(/[\uab70-\uabbf\u13f8-\u13fd]/g, (c) => String.fromCharCode(c.charCodeAt(0) >= 0xab70 ? c.charCodeAt(0) - 0xab70 + 0x13a0 : c.charCodeAt(0) - 8));
  s = s.replace(/[\u3002\uff0e\uff61]/g, '.');
  const labels = s.split('.');
  const unicode = [];
  for (let i = 0; i < labels.length; i++) {
    let label = labels[i];
    let u = label;
    if (label.startsWith('xn--')) {
      const dec = punyDecode(label.slice(4));
      if (dec === null || dec === '' || !/[^\u0000-\u007f]/.test(dec)) return null;
      if (dec !== dec.normalize('NFC') || dec !== dec.toLowerCase()) return null;
      if (FORBIDDEN_DOMAIN.test(dec) || /[\u0080-\u00a0]/.test(dec) || INVALID_CP.test(dec)) return null;
      u = dec;
    } else if (/[^\u0000-\u007f]/.test(label)) {
      if (/^\p{M}/u.test(label)) return null;
      if (INVALID_CP.test(label)) return null;
      const enc = punyEncode(label);
      if (enc === null) return null;
      label = 'xn--' + enc;
    }
    unicode.push(u);
    labels[i] = label;
  }
  if (unicode.some(isBidiChar)) {
    for (const u of unicode) if (!bidiLabelOK(u)) return null;
  }
  return labels.join('.');
}

// ---- hosts
function parseIPv4Number(s) {
  if (s === '') return NaN;
  let radix = 10;
  if (s.length >= 2 && s[0] === '0' && (s[1] === 'x' || s[1] === 'X')) { s = s.slice(2); radix = 16; }
  else if (s.length >= 2 && s[0] === '0') { s = s.slice(1); radix = 8; }
  if (s === '') return 0;
  const re = radix === 10 ? /^[0-9]+$/ : radix === 16 ? /^[0-9a-fA-F]+$/ : /^[0-7]+$/;
  if (!re.test(s)) return NaN;
  return parseInt(s, radix);
}
function endsInNumber(s) {
  const parts = s.split('.');
  if (parts[parts.length - 1] === '') {
    if (parts.length === 1) return false;
    parts.pop();
  }
  const last = parts[parts.length - 1];
  if (last !== '' && /^[0-9]+$/.test(last)) return true;
  return !Number.isNaN(parseIPv4Number(last)) && /^0[xX][0-9a-fA-F]*$/.test(last);
}
function parseIPv4(s) {
  const parts = s.split('.');
  if (parts[parts.length - 1] === '' && parts.length > 1) parts.pop();
  if (parts.length > 4) return null;
  const nums = [];
  for (const p of parts) {
    const n = parseIPv4Number(p);
    if (Number.isNaN(n)) return null;
    nums.push(n);
  }
  for (let i = 0; i < nums.length - 1; i++) if (nums[i] > 255) return null;
  if (nums[nums.length - 1] >= 256 ** (5 - nums.length)) return null;
  let ipv4 = nums[nums.length - 1];
  for (let i = 0; i < nums.length - 1; i++) ipv4 += nums[i] * 256 ** (3 - i);
  const out = [];
  for (let i = 0; i < 4; i++) { out.unshift(String(ipv4 % 256)); ipv4 = Math.floor(ipv4 / 256); }
  return out.join('.');
}
function parseIPv6(input) {
  const addr = [0, 0, 0, 0, 0, 0, 0, 0];
  let pieceIndex = 0, compress = null, p = 0;
  const c = Array.from(input, (ch) => ch.codePointAt(0));
  const at = (i) => (i < c.length ? c[i] : EOF_);
  if (at(p) === 0x3a) {
    if (at(p + 1) !== 0x3a) return null;
    p += 2;
    compress = ++pieceIndex;
  }
  while (at(p) !== EOF_) {
    if (pieceIndex === 8) return null;
    if (at(p) === 0x3a) {
      if (compress !== null) return null;
      p++;
      compress = ++pieceIndex;
      continue;
    }
    let value = 0, length = 0;
    while (length < 4 && isHex(at(p))) { value = value * 16 + parseInt(String.fromCharCode(at(p)), 16); p++; length++; }
    if (at(p) === 0x2e) {
      if (length === 0) return null;
      p -= length;
      if (pieceIndex > 6) return null;
      let numbersSeen = 0;
      while (at(p) !== EOF_) {
        let ipv4Piece = null;
        if (numbersSeen > 0) {
          if (at(p) === 0x2e && numbersSeen < 4) p++;
          else return null;
        }
        if (!isDigit(at(p))) return null;
        while (isDigit(at(p))) {
          const number = at(p) - 0x30;
          if (ipv4Piece === null) ipv4Piece = number;
          else if (ipv4Piece === 0) return null;
          else ipv4Piece = ipv4Piece * 10 + number;
          if (ipv4Piece > 255) return null;
          p++;
        }
        addr[pieceIndex] = addr[pieceIndex] * 0x100 + ipv4Piece;
        numbersSeen++;
        if (numbersSeen === 2 || numbersSeen === 4) pieceIndex++;
      }
      if (numbersSeen !== 4) return null;
      break;
    } else if (at(p) === 0x3a) {
      p++;
      if (at(p) === EOF_) return null;
    } else if (at(p) !== EOF_) return null;
    addr[pieceIndex] = value;
    pieceIndex++;
  }
  if (compress !== null) {
    let swaps = pieceIndex - compress;
    pieceIndex = 7;
    while (pieceIndex !== 0 && swaps > 0) {
      const t = addr[pieceIndex]; addr[pieceIndex] = addr[compress + swaps - 1]; addr[compress + swaps - 1] = t;
      pieceIndex--; swaps--;
    }
  } else if (pieceIndex !== 8) return null;
  return addr;
}
function serializeIPv6(addr) {
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (addr[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && addr[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  let out = '', ignore0 = false;
  for (let i = 0; i < 8; i++) {
    if (ignore0 && addr[i] === 0) continue;
    ignore0 = false;
    if (best === i) { out += i === 0 ? '::' : ':'; ignore0 = true; continue; }
    out += addr[i].toString(16);
    if (i !== 7) out += ':';
  }
  return '[' + out + ']';
}
// Returns the serialized host, or null on failure.
function parseHost(input, isOpaque) {
  if (input[0] === '[') {
    if (input[input.length - 1] !== ']') return null;
    const a = parseIPv6(input.slice(1, -1));
    return a ? serializeIPv6(a) : null;
  }
  if (isOpaque) {
    if (FORBIDDEN_HOST.test(input)) return null;
    return encodeString(input, inC0);
  }
  const domain = input.indexOf('%') < 0 ? input : utf8Decode(percentDecode(input));
  const ascii = domainToASCII(domain, false);
  if (ascii === null || ascii === '') return null;
  if (FORBIDDEN_DOMAIN.test(ascii)) return null;
  if (endsInNumber(ascii)) return parseIPv4(ascii);
  return ascii;
}

// ---- the basic URL parser
const S = {
  SCHEME_START: 1, SCHEME: 2, NO_SCHEME: 3, SPECIAL_RELATIVE_OR_AUTHORITY: 4,
  PATH_OR_AUTHORITY: 5, RELATIVE: 6, RELATIVE_SLASH: 7, SPECIAL_AUTHORITY_SLASHES: 8,
  SPECIAL_AUTHORITY_IGNORE_SLASHES: 9, AUTHORITY: 10, HOST: 11, HOSTNAME: 12, PORT: 13,
  FILE: 14, FILE_SLASH: 15, FILE_HOST: 16, PATH_START: 17, PATH: 18, OPAQUE_PATH: 19,
  QUERY: 20, FRAGMENT: 21,
};
const FAIL = null;
const isWinLetter = (a, b) => isAlpha(a) && (b === 0x3a || b === 0x7c);
const isNormWinLetter = (s) => s.length === 2 && isAlpha(s.charCodeAt(0)) && s[1] === ':';
function startsWithWinLetter(c, p) {
  if (c.length - p < 2 || !isWinLetter(c[p], c[p + 1])) return false;
  if (c.length - p === 2) return true;
  const t = c[p + 2];
  return t === 0x2f || t === 0x5c || t === 0x3f || t === 0x23;
}
const isSingleDot = (s) => s === '.' || s.toLowerCase() === '%2e';
const isDoubleDot = (s) => {
  const l = s.toLowerCase();
  return l === '..' || l === '.%2e' || l === '%2e.' || l === '%2e%2e';
};
function shortenPath(url) {
  const path = url.path;
  if (url.scheme === 'file' && path.length === 1 && isNormWinLetter(path[0])) return;
  path.pop();
}
const newRecord = () => ({
  scheme: '', username: '', password: '', host: null, port: null,
  path: [], opaque: false, query: null, fragment: null,
});

// Parses input against base (a record or null); with url and stateOverride,
// modifies url (the setters). Returns the record, FAIL, or for an override
// run, a value that is only compared to FAIL.
const cpString = (c) => (c < 0x10000 ? String.fromCharCode(c) : String.fromCodePoint(c));
function codePoints(s) {
  const out = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { out.push(((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000); i++; continue; }
    }
    out.push(c);
  }
  return out;
}
function basicParse(input, base, url, stateOverride) {
  if (!url) {
    url = newRecord();
    input = input.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '');
  }
  input = input.replace(/[\t\n\r]/g, '');
  let state = stateOverride || S.SCHEME_START;
  const c = codePoints(input);
  let buffer = '', atSignSeen = false, insideBrackets = false, passwordTokenSeen = false;
  for (let p = 0; ; p++) {
    const ch = p < c.length ? c[p] : EOF_;
    switch (state) {
      case S.SCHEME_START:
        if (isAlpha(ch)) { buffer += String.fromCharCode(ch | 0x20); state = S.SCHEME; }
        else if (!stateOverride) { state = S.NO_SCHEME; p--; }
        else return FAIL;
        break;
      case S.SCHEME:
        if (isAlnum(ch) || ch === 0x2b || ch === 0x2d || ch === 0x2e) buffer += String.fromCharCode(isAlpha(ch) ? ch | 0x20 : ch);
        else if (ch === 0x3a) {
          if (stateOverride) {
            if (isSpecialScheme(url.scheme) !== isSpecialScheme(buffer)) return url;
            if ((url.username !== '' || url.password !== '' || url.port !== null) && buffer === 'file') return url;
            if (url.scheme === 'file' && url.host === '') return url;
          }
          url.scheme = buffer;
          if (stateOverride) {
            if (url.port === defaultPort(url.scheme)) url.port = null;
            return url;
          }
          buffer = '';
          if (url.scheme === 'file') state = S.FILE;
          else if (isSpecialScheme(url.scheme) && base && base.scheme === url.scheme) state = S.SPECIAL_RELATIVE_OR_AUTHORITY;
          else if (isSpecialScheme(url.scheme)) state = S.SPECIAL_AUTHORITY_SLASHES;
          else if (c[p + 1] === 0x2f) { state = S.PATH_OR_AUTHORITY; p++; }
          else { url.path = ''; url.opaque = true; state = S.OPAQUE_PATH; }
        } else if (!stateOverride) { buffer = ''; state = S.NO_SCHEME; p = -1; }
        else return FAIL;
        break;
      case S.NO_SCHEME:
        if (!base || (base.opaque && ch !== 0x23)) return FAIL;
        if (base.opaque && ch === 0x23) {
          url.scheme = base.scheme; url.path = base.path; url.opaque = true;
          url.query = base.query; url.fragment = ''; state = S.FRAGMENT;
        } else if (base.scheme !== 'file') { state = S.RELATIVE; p--; }
        else { state = S.FILE; p--; }
        break;
      case S.SPECIAL_RELATIVE_OR_AUTHORITY:
        if (ch === 0x2f && c[p + 1] === 0x2f) { state = S.SPECIAL_AUTHORITY_IGNORE_SLASHES; p++; }
        else { state = S.RELATIVE; p--; }
        break;
      case S.PATH_OR_AUTHORITY:
        if (ch === 0x2f) state = S.AUTHORITY;
        else { state = S.PATH; p--; }
        break;
      case S.RELATIVE:
        url.scheme = base.scheme;
        if (ch === 0x2f) state = S.RELATIVE_SLASH;
        else if (isSpecialScheme(url.scheme) && ch === 0x5c) state = S.RELATIVE_SLASH;
        else {
          url.username = base.username; url.password = base.password; url.host = base.host;
          url.port = base.port; url.path = base.path.slice(); url.query = base.query;
          if (ch === 0x3f) { url.query = ''; state = S.QUERY; }
          else if (ch === 0x23) { url.fragment = ''; state = S.FRAGMENT; }
          else if (ch !== EOF_) { url.query = null; shortenPath(url); state = S.PATH; p--; }
        }
        break;
      case S.RELATIVE_SLASH:
        if (isSpecialScheme(url.scheme) && (ch === 0x2f || ch === 0x5c)) state = S.SPECIAL_AUTHORITY_IGNORE_SLASHES;
        else if (ch === 0x2f) state = S.AUTHORITY;
        else {
          url.username = base.username; url.password = base.password; url.host = base.host;
          url.port = base.port; state = S.PATH; p--;
        }
        break;
      case S.SPECIAL_AUTHORITY_SLASHES:
        if (ch === 0x2f && c[p + 1] === 0x2f) { state = S.SPECIAL_AUTHORITY_IGNORE_SLASHES; p++; }
        else { state = S.SPECIAL_AUTHORITY_IGNORE_SLASHES; p--; }
        break;
      case S.SPECIAL_AUTHORITY_IGNORE_SLASHES:
        if (ch !== 0x2f && ch !== 0x5c) { state = S.AUTHORITY; p--; }
        break;
      case S.AUTHORITY:
        if (ch === 0x40) {
          if (atSignSeen) buffer = '%40' + buffer;
          atSignSeen = true;
          for (const bc of buffer) {
            if (bc === ':' && !passwordTokenSeen) { passwordTokenSeen = true; continue; }
            const enc = encodeCp(bc.codePointAt(0), inUserinfo);
            if (passwordTokenSeen) url.password += enc; else url.username += enc;
          }
          buffer = '';
        } else if (ch === EOF_ || ch === 0x2f || ch === 0x3f || ch === 0x23 ||
                   (isSpecialScheme(url.scheme) && ch === 0x5c)) {
          if (atSignSeen && buffer === '') return FAIL;
          p -= Array.from(buffer).length + 1;
          buffer = '';
          state = S.HOST;
        } else buffer += cpString(ch);
        break;
      case S.HOST:
      case S.HOSTNAME:
        if (stateOverride && url.scheme === 'file') { p--; state = S.FILE_HOST; }
        else if (ch === 0x3a && !insideBrackets) {
          if (buffer === '') return FAIL;
          if (stateOverride === S.HOSTNAME) return FAIL;
          const host = parseHost(buffer, !isSpecialScheme(url.scheme));
          if (host === null) return FAIL;
          url.host = host; buffer = ''; state = S.PORT;
        } else if (ch === EOF_ || ch === 0x2f || ch === 0x3f || ch === 0x23 ||
                   (isSpecialScheme(url.scheme) && ch === 0x5c)) {
          p--;
          if (isSpecialScheme(url.scheme) && buffer === '') return FAIL;
          if (stateOverride && buffer === '' && (url.username !== '' || url.password !== '' || url.port !== null)) return FAIL;
          const host = parseHost(buffer, !isSpecialScheme(url.scheme));
          if (host === null) return FAIL;
          url.host = host; buffer = ''; state = S.PATH_START;
          if (stateOverride) return url;
        } else {
          if (ch === 0x5b) insideBrackets = true;
          if (ch === 0x5d) insideBrackets = false;
          buffer += cpString(ch);
        }
        break;
      case S.PORT:
        if (isDigit(ch)) buffer += cpString(ch);
        else if (ch === EOF_ || ch === 0x2f || ch === 0x3f || ch === 0x23 ||
                 (isSpecialScheme(url.scheme) && ch === 0x5c) || stateOverride) {
          if (buffer !== '') {
            const port = parseInt(buffer, 10);
            if (port > 65535) return FAIL;
            url.port = port === defaultPort(url.scheme) ? null : port;
            buffer = '';
            if (stateOverride) return url;
          }
          if (stateOverride) return url;
          state = S.PATH_START; p--;
        } else return FAIL;
        break;
      case S.FILE:
        url.scheme = 'file';
        url.host = '';
        if (ch === 0x2f || ch === 0x5c) state = S.FILE_SLASH;
        else if (base && base.scheme === 'file') {
          url.host = base.host; url.path = base.path.slice(); url.query = base.query;
          if (ch === 0x3f) { url.query = ''; state = S.QUERY; }
          else if (ch === 0x23) { url.fragment = ''; state = S.FRAGMENT; }
          else if (ch !== EOF_) {
            url.query = null;
            if (!startsWithWinLetter(c, p)) shortenPath(url);
            else url.path = [];
            state = S.PATH; p--;
          }
        } else { state = S.PATH; p--; }
        break;
      case S.FILE_SLASH:
        if (ch === 0x2f || ch === 0x5c) state = S.FILE_HOST;
        else {
          if (base && base.scheme === 'file') {
            url.host = base.host;
            if (!startsWithWinLetter(c, p) && base.path.length > 0 && isNormWinLetter(base.path[0]))
              url.path.push(base.path[0]);
          }
          state = S.PATH; p--;
        }
        break;
      case S.FILE_HOST:
        if (ch === EOF_ || ch === 0x2f || ch === 0x5c || ch === 0x3f || ch === 0x23) {
          p--;
          if (!stateOverride && buffer.length === 2 && isWinLetter(buffer.charCodeAt(0), buffer.charCodeAt(1))) {
            state = S.PATH;
          } else if (buffer === '') {
            url.host = '';
            if (stateOverride) return url;
            state = S.PATH_START;
          } else {
            let host = parseHost(buffer, false);
            if (host === null) return FAIL;
            if (host === 'localhost') host = '';
            url.host = host;
            if (stateOverride) return url;
            buffer = ''; state = S.PATH_START;
          }
        } else buffer += cpString(ch);
        break;
      case S.PATH_START:
        if (isSpecialScheme(url.scheme)) {
          state = S.PATH;
          if (ch !== 0x2f && ch !== 0x5c) p--;
        } else if (!stateOverride && ch === 0x3f) { url.query = ''; state = S.QUERY; }
        else if (!stateOverride && ch === 0x23) { url.fragment = ''; state = S.FRAGMENT; }
        else if (ch !== EOF_) { state = S.PATH; if (ch !== 0x2f) p--; }
        else if (stateOverride && url.host === null) url.path.push('');
        break;
      case S.PATH:
        if (ch === EOF_ || ch === 0x2f || (isSpecialScheme(url.scheme) && ch === 0x5c) ||
            (!stateOverride && (ch === 0x3f || ch === 0x23))) {
          const slash = ch === 0x2f || (isSpecialScheme(url.scheme) && ch === 0x5c);
          if (isDoubleDot(buffer)) {
            shortenPath(url);
            if (!slash) url.path.push('');
          } else if (isSingleDot(buffer) && !slash) url.path.push('');
          else if (!isSingleDot(buffer)) {
            if (url.scheme === 'file' && url.path.length === 0 && isNormWinLetter(buffer.replace('|', ':').slice(0, 2)) && buffer.length === 2)
              buffer = buffer[0] + ':';
            url.path.push(buffer);
          }
          buffer = '';
          if (ch === 0x3f) { url.query = ''; state = S.QUERY; }
          if (ch === 0x23) { url.fragment = ''; state = S.FRAGMENT; }
        } else buffer += encodeCp(ch, inPath);
        break;
      case S.OPAQUE_PATH:
        if (ch === 0x3f) { url.query = ''; state = S.QUERY; }
        else if (ch === 0x23) { url.fragment = ''; state = S.FRAGMENT; }
        else if (ch !== EOF_) url.path += encodeCp(ch, inC0);
        break;
      case S.QUERY:
        if ((!stateOverride && ch === 0x23) || ch === EOF_) {
          url.query += encodeString(buffer, isSpecialScheme(url.scheme) ? inSpecialQuery : inQuery);
          buffer = '';
          if (ch === 0x23) { url.fragment = ''; state = S.FRAGMENT; }
        } else if (ch !== EOF_) buffer += cpString(ch);
        break;
      case S.FRAGMENT:
        if (ch !== EOF_) url.fragment += encodeCp(ch, inFragment);
        break;
    }
    if (p >= c.length) break;
  }
  return url;
}

function serializePath(u) {
  if (u.opaque) return u.path;
  let out = '';
  for (const seg of u.path) out += '/' + seg;
  return out;
}
function serializeURL(u, excludeFragment) {
  let out = u.scheme + ':';
  if (u.host !== null) {
    out += '//';
    if (u.username !== '' || u.password !== '') {
      out += u.username;
      if (u.password !== '') out += ':' + u.password;
      out += '@';
    }
    out += u.host;
    if (u.port !== null) out += ':' + u.port;
  }
  if (u.host === null && !u.opaque && u.path.length > 1 && u.path[0] === '') out += '/.';
  out += serializePath(u);
  if (u.query !== null) out += '?' + u.query;
  if (!excludeFragment && u.fragment !== null) out += '#' + u.fragment;
  return out;
}
function serializeOrigin(u) {
  switch (u.scheme) {
    case 'blob': {
      const inner = basicParse(serializePath(u), null);
      if (inner && (inner.scheme === 'http' || inner.scheme === 'https')) return serializeOrigin(inner);
      return 'null';
    }
    case 'ftp': case 'http': case 'https': case 'ws': case 'wss':
      return u.scheme + '://' + u.host + (u.port !== null ? ':' + u.port : '');
    default:
      return 'null';
  }
}

// ---- application/x-www-form-urlencoded
function formParse(input) {
  const out = [];
  for (const seq of String(input).split('&')) {
    if (seq === '') continue;
    const i = seq.indexOf('=');
    const name = i >= 0 ? seq.slice(0, i) : seq;
    const value = i >= 0 ? seq.slice(i + 1) : '';
    out.push([formDecode(name), formDecode(value)]);
  }
  return out;
}
function formDecode(s) {
  if (s.indexOf('+') >= 0) s = s.replace(/\+/g, ' ');
  return s.indexOf('%') < 0 ? s : utf8Decode(percentDecode(s));
}
function formSerialize(list) {
  let out = '';
  for (const [n, v] of list) {
    if (out !== '') out += '&';
    out += encodeString(n, inForm, true) + '=' + encodeString(v, inForm, true);
  }
  return out;
}

// ---- URL
// The state of a URL ({ rec, params }) and of a URLSearchParams
// ({ list, url }) are private fields (cheaper than WeakMaps); these read
// them, throwing a TypeError for another receiver. Set by the classes'
// static blocks.
let urlStateOf, paramsStateOf;
const urlState = (u) => {
  const s = urlStateOf(u);
  if (!s) throw new TypeError('Receiver must be an instance of class URL');
  return s;
};
const paramsState = (p) => {
  const s = paramsStateOf(p);
  if (!s) throw new TypeError("Value of 'this' must be of type URLSearchParams");
  return s;
};
function paramsUpdate(ps) {
  if (!ps.url) return;
  const rec = urlState(ps.url).rec;
  const q = formSerialize(ps.list);
  rec.query = q === '' ? null : q;
  if (q === '') stripTrailingSpacesFromOpaquePath(rec);
}
function stripTrailingSpacesFromOpaquePath(rec) {
  if (!rec.opaque || rec.fragment !== null || rec.query !== null) return;
  rec.path = rec.path.replace(/ +$/, '');
}
const cannotHaveCredentialsOrPort = (r) => r.host === null || r.host === '' || r.scheme === 'file';

// The last base parsed (renders resolve many URLs against one base); the
// parser never modifies a base record.
let lastBase = null, lastBaseRec = null;
function parseWithBase(url, base) {
  let baseRec = null;
  if (base !== undefined) {
    const b = toUSV(base);
    if (b === lastBase) baseRec = lastBaseRec;
    else {
      baseRec = basicParse(b, null);
      if (baseRec === FAIL) return FAIL;
      lastBase = b;
      lastBaseRec = baseRec;
    }
  }
  return basicParse(toUSV(url), baseRec);
}

class URL {
  #state;
  static {
    urlStateOf = (u) => {
      if (!$.isObject(u) || !(#state in u)) throw new TypeError('Receiver must be an instance of class URL');
      return u.#state;
    };
  }
  constructor(url, base = undefined) {
    if (arguments.length === 0)
      throw new TypeError("Failed to construct 'URL': 1 argument required, but only 0 present.");
    const rec = parseWithBase(url, base);
    if (rec === FAIL) {
      const e = new TypeError('Invalid URL');
      e.code = 'ERR_INVALID_URL';
      e.input = String(url);
      if (base !== undefined) e.base = String(base);
      throw e;
    }
    // searchParams is made on first use (most renders never ask).
    this.#state = { rec, params: null };
  }
  static canParse(url, base = undefined) {
    if (arguments.length === 0)
      throw new TypeError("Failed to execute 'canParse' on 'URL': 1 argument required, but only 0 present.");
    return parseWithBase(url, base) !== FAIL;
  }
  get href() { return serializeURL(urlState(this).rec); }
  set href(v) {
    const s = urlState(this);
    const rec = basicParse(toUSV(v), null);
    if (rec === FAIL) { const e = new TypeError('Invalid URL'); e.code = 'ERR_INVALID_URL'; e.input = String(v); throw e; }
    s.rec = rec;
    if (s.params) paramsState(s.params).list = formParse(rec.query || '');
  }
  get origin() { return serializeOrigin(urlState(this).rec); }
  get protocol() { return urlState(this).rec.scheme + ':'; }
  set protocol(v) { const s = urlState(this); basicParse(toUSV(v) + ':', null, s.rec, S.SCHEME_START); }
  get username() { return urlState(this).rec.username; }
  set username(v) {
    const r = urlState(this).rec;
    if (cannotHaveCredentialsOrPort(r)) return;
    r.username = encodeString(toUSV(v), inUserinfo);
  }
  get password() { return urlState(this).rec.password; }
  set password(v) {
    const r = urlState(this).rec;
    if (cannotHaveCredentialsOrPort(r)) return;
    r.password = encodeString(toUSV(v), inUserinfo);
  }
  get host() {
    const r = urlState(this).rec;
    if (r.host === null) return '';
    return r.port === null ? r.host : r.host + ':' + r.port;
  }
  set host(v) {
    const s = urlState(this);
    if (s.rec.opaque) return;
    basicParse(toUSV(v), null, s.rec, S.HOST);
  }
  get hostname() { const r = urlState(this).rec; return r.host === null ? '' : r.host; }
  set hostname(v) {
    const s = urlState(this);
    if (s.rec.opaque) return;
    basicParse(toUSV(v), null, s.rec, S.HOSTNAME);
  }
  get port() { const r = urlState(this).rec; return r.port === null ? '' : String(r.port); }
  set port(v) {
    const s = urlState(this);
    if (cannotHaveCredentialsOrPort(s.rec)) return;
    v = toUSV(v);
    if (v === '') { s.rec.port = null; return; }
    basicParse(v, null, s.rec, S.PORT);
  }
  get pathname() { return serializePath(urlState(this).rec); }
  set pathname(v) {
    const s = urlState(this);
    if (s.rec.opaque) return;
    s.rec.path = [];
    basicParse(toUSV(v), null, s.rec, S.PATH_START);
  }
  get search() { const q = urlState(this).rec.query; return q === null || q === '' ? '' : '?' + q; }
  set search(v) {
    const s = urlState(this);
    v = toUSV(v);
    if (v === '') {
      s.rec.query = null;
      if (s.params) paramsState(s.params).list = [];
      stripTrailingSpacesFromOpaquePath(s.rec);
      return;
    }
    const input = v[0] === '?' ? v.slice(1) : v;
    s.rec.query = '';
    basicParse(input, null, s.rec, S.QUERY);
    if (s.params) paramsState(s.params).list = formParse(input);
  }
  get searchParams() {
    const s = urlState(this);
    if (!s.params) {
      s.params = new URLSearchParams(s.rec.query || '');
      paramsState(s.params).url = this;
    }
    return s.params;
  }
  get hash() { const f = urlState(this).rec.fragment; return f === null || f === '' ? '' : '#' + f; }
  set hash(v) {
    const s = urlState(this);
    v = toUSV(v);
    if (v === '') { s.rec.fragment = null; stripTrailingSpacesFromOpaquePath(s.rec); return; }
    const input = v[0] === '#' ? v.slice(1) : v;
    s.rec.fragment = '';
    basicParse(input, null, s.rec, S.FRAGMENT);
  }
  toString() { return serializeURL(urlState(this).rec); }
  toJSON() { return serializeURL(urlState(this).rec); }
}
// WebIDL attributes are enumerable accessors, operations enumerable too.
for (const k of ['href', 'origin', 'protocol', 'username', 'password', 'host', 'hostname',
                 'port', 'pathname', 'search', 'searchParams', 'hash', 'toString', 'toJSON'])
  Object.defineProperty(URL.prototype, k, { enumerable: true });
Object.defineProperty(URL, 'canParse', { enumerable: true });
$.tag(URL);

// ---- URLSearchParams
class URLSearchParams {
  #state;
  static {
    paramsStateOf = (p) => {
      if (!$.isObject(p) || !(#state in p)) throw new TypeError("Value of 'this' must be of type URLSearchParams");
      return p.#state;
    };
  }
  constructor(init = undefined) {
    const state = { list: [], url: null };
    this.#state = state;
    if (init === undefined || init === null) return;
    if (typeof init === 'object' || typeof init === 'function') {
      const iter = init[Symbol.iterator];
      if (iter !== undefined && iter !== null) {
        if (typeof iter !== 'function') throw new TypeError("Failed to construct 'URLSearchParams': The provided value cannot be converted to a sequence.");
        for (const pair of init) {
          if (!$.isObject(pair) || typeof pair[Symbol.iterator] !== 'function')
            throw new TypeError("Failed to construct 'URLSearchParams': The provided value cannot be converted to a sequence.");
          const arr = Array.from(pair);
          if (arr.length !== 2)
            throw new TypeError("Failed to construct 'URLSearchParams': Sequence initializer must only contain pair elements");
          state.list.push([toUSV(arr[0]), toUSV(arr[1])]);
        }
      } else {
        for (const key of Reflect.ownKeys(init)) {
          const d = Reflect.getOwnPropertyDescriptor(init, key);
          if (d === undefined || !d.enumerable) continue;
          if (typeof key === 'symbol') throw new TypeError('Cannot convert a Symbol value to a string');
          state.list.push([toUSV(key), toUSV(init[key])]);
        }
      }
      return;
    }
    let s = toUSV(init);
    if (s[0] === '?') s = s.slice(1);
    state.list = formParse(s);
  }
  get size() { return paramsState(this).list.length; }
  append(name, value) {
    if (arguments.length < 2) throw new TypeError("Failed to execute 'append' on 'URLSearchParams': 2 arguments required, but only " + arguments.length + ' present.');
    const s = paramsState(this);
    s.list.push([toUSV(name), toUSV(value)]);
    paramsUpdate(s);
  }
  delete(name, value = undefined) {
    if (arguments.length < 1) throw new TypeError("Failed to execute 'delete' on 'URLSearchParams': 1 argument required, but only 0 present.");
    const s = paramsState(this);
    name = toUSV(name);
    if (value !== undefined) {
      value = toUSV(value);
      s.list = s.list.filter(([n, v]) => !(n === name && v === value));
    } else s.list = s.list.filter(([n]) => n !== name);
    paramsUpdate(s);
  }
  get(name) {
    if (arguments.length < 1) throw new TypeError("Failed to execute 'get' on 'URLSearchParams': 1 argument required, but only 0 present.");
    name = toUSV(name);
    for (const [n, v] of paramsState(this).list) if (n === name) return v;
    return null;
  }
  getAll(name) {
    if (arguments.length < 1) throw new TypeError("Failed to execute 'getAll' on 'URLSearchParams': 1 argument required, but only 0 present.");
    name = toUSV(name);
    return paramsState(this).list.filter(([n]) => n === name).map(([, v]) => v);
  }
  has(name, value = undefined) {
    if (arguments.length < 1) throw new TypeError("Failed to execute 'has' on 'URLSearchParams': 1 argument required, but only 0 present.");
    name = toUSV(name);
    if (value !== undefined) {
      value = toUSV(value);
      return paramsState(this).list.some(([n, v]) => n === name && v === value);
    }
    return paramsState(this).list.some(([n]) => n === name);
  }
  set(name, value) {
    if (arguments.length < 2) throw new TypeError("Failed to execute 'set' on 'URLSearchParams': 2 arguments required, but only " + arguments.length + ' present.');
    const s = paramsState(this);
    name = toUSV(name); value = toUSV(value);
    const i = s.list.findIndex(([n]) => n === name);
    if (i < 0) s.list.push([name, value]);
    else {
      s.list[i][1] = value;
      s.list = s.list.filter(([n], j) => j <= i || n !== name);
    }
    paramsUpdate(s);
  }
  sort() {
    const s = paramsState(this);
    // Stable, by code units of the names.
    s.list = s.list.map((e, i) => [e, i]).sort((a, b) => {
      const x = a[0][0], y = b[0][0];
      return x < y ? -1 : x > y ? 1 : a[1] - b[1];
    }).map(([e]) => e);
    paramsUpdate(s);
  }
  forEach(callback, thisArg = undefined) {
    if (typeof callback !== 'function') throw new TypeError("Failed to execute 'forEach' on 'URLSearchParams': parameter 1 is not of type 'Function'.");
    const s = paramsState(this);
    for (let i = 0; i < s.list.length; i++) callback.call(thisArg, s.list[i][1], s.list[i][0], this);
  }
  keys() { return makeIterator(this, 0); }
  values() { return makeIterator(this, 1); }
  entries() { return makeIterator(this, 2); }
  toString() { return formSerialize(paramsState(this).list); }
}
for (const k of ['size', 'append', 'delete', 'get', 'getAll', 'has', 'set', 'sort', 'forEach',
                 'keys', 'values', 'entries', 'toString'])
  Object.defineProperty(URLSearchParams.prototype, k, { enumerable: true });
Object.defineProperty(URLSearchParams.prototype, Symbol.iterator, {
  value: URLSearchParams.prototype.entries, writable: true, enumerable: false, configurable: true,
});
$.tag(URLSearchParams);

const IterProto = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
const ITS = new WeakMap();
const ParamsIteratorProto = Object.create(IterProto, {
  next: {
    value: function next() {
      const it = ITS.get(this);
      if (!it) throw new TypeError('Illegal invocation');
      const list = paramsState(it.params).list;
      if (it.index >= list.length) return { value: undefined, done: true };
      const [n, v] = list[it.index++];
      return { value: it.kind === 0 ? n : it.kind === 1 ? v : [n, v], done: false };
    },
    writable: true, enumerable: true, configurable: true,
  },
  [Symbol.toStringTag]: { value: 'URLSearchParams Iterator', configurable: true },
});
function makeIterator(params, kind) {
  paramsState(params);
  const it = Object.create(ParamsIteratorProto);
  ITS.set(it, { params, kind, index: 0 });
  return it;
}

return { URL, URLSearchParams };
