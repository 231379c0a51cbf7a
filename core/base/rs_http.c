/* core/base/rs_http.c — see rs_http.h. */
#include "rs_http.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

unsigned rs_method_bit(const char *name, size_t len) {
#define XX(m, bit)                                                    \
  if (len == sizeof(#m) - 1 && memcmp(name, #m, len) == 0) return RS_M_##m;
  RS_METHOD_MAP(XX)
#undef XX
  return 0;
}

const char *rs_http_reason(int status) {
  switch (status) {
#define XX(code, reason) case code: return reason;
    RS_HTTP_STATUS_MAP(XX)
#undef XX
    default: return "Unknown";
  }
}

static const struct { int status; const char *label; } rs__req_errors[] = {
  { 0, "ok" },
#define XX(name, status, label) { status, label },
  RS_REQ_ERROR_MAP(XX)
#undef XX
};

int rs_req_error_status(rs_req_error_t e) {
  return (unsigned)e < RS_REQ_E_MAX ? rs__req_errors[e].status : 500;
}

const char *rs_req_error_label(rs_req_error_t e) {
  return (unsigned)e < RS_REQ_E_MAX ? rs__req_errors[e].label : "unknown";
}

/* Pages, indexed by status - 100: 3xx (redirect bodies), 4xx and 5xx. */
static char *rs__pages[500];
static size_t rs__page_lens[500];

void rs_http_init(void) {
  static const int codes[] = {
#define XX(code, reason) code,
    RS_HTTP_STATUS_MAP(XX)
#undef XX
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(codes); i++) {
    int c = codes[i];
    if (c < 300 || c == 304 || rs__pages[c - 100] != NULL) continue;
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
                     "<center><h1>%d %s</h1></center>\r\n<hr><center>rustyssr</center>\r\n"
                     "</body>\r\n</html>\r\n",
                     c, rs_http_reason(c), c, rs_http_reason(c));
    rs__pages[c - 100] = rs_xstrndup(buf, (size_t)n);
    rs__page_lens[c - 100] = (size_t)n;
  }
}

rs_str_t rs_http_error_page(int status) {
  if (status >= 300 && status < 600 && rs__pages[status - 100] != NULL)
    return (rs_str_t){ rs__pages[status - 100], rs__page_lens[status - 100] };
  return rs_http_error_page(status >= 500 ? 500 : 400);
}

size_t rs_http_date_line(char *buf, time_t t) {
  static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
  static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  struct tm tm;
  gmtime_r(&t, &tm);
  int n = snprintf(buf, RS_HTTP_DATE_LINE_MAX, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                   days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
                   tm.tm_hour, tm.tm_min, tm.tm_sec);
  return n > 0 ? (size_t)n : 0;
}

/* Does the If-None-Match list hold etag ("*" holds anything; a NULL etag
 * only that)? Weak comparison, RFC 9110 §13.1.2: W/ is ignored. */
bool rs_http_etag_match(const rs_str_t *inm, const char *etag, size_t etag_len) {
  const char *p = inm->p, *end = inm->p + inm->len;
  while (p < end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) p++;
    if (p == end) break;
    if (*p == '*') return true;
    if (end - p >= 2 && p[0] == 'W' && p[1] == '/') p += 2;
    const char *s = p;
    if (p < end && *p == '"') {
      p++;
      while (p < end && *p != '"') p++;
      if (p < end) p++;
    } else {
      while (p < end && *p != ',' && *p != ' ' && *p != '\t') p++;
    }
    if (etag != NULL && (size_t)(p - s) == etag_len && memcmp(s, etag, etag_len) == 0)
      return true;
    if (p == s) p++;             /* a stray byte: step over it */
  }
  return false;
}

/* ------------------------------------------------------------------ framing */

enum {
  RS__SC_START = 0,              /* before the start line (empty lines allowed) */
  RS__SC_START_LF,               /* an empty line's CR seen */
  RS__SC_LINE0,                  /* in the start line */
  RS__SC_LINE0_LF,               /* its CR seen */
  RS__SC_BOL,                    /* at the start of a header line or the empty line */
  RS__SC_NAME,                   /* in a field name */
  RS__SC_VALUE,                  /* after the colon */
  RS__SC_VALUE_LF,               /* a header line's CR seen */
  RS__SC_END_LF,                 /* the empty line's CR seen */
  RS__SC_CSIZE,                  /* in a chunk-size line */
  RS__SC_CEXT,                   /* in its extensions */
  RS__SC_CSIZE_LF,               /* its CR seen */
  RS__SC_CDATA,                  /* in chunk data */
  RS__SC_CDATA_CR,               /* after the data: CR expected */
  RS__SC_CDATA_LF,               /* ... then LF */
  RS__SC_DONE,
};

void rs_http_scan_head(rs_http_scan_t *s) {
  memset(s, 0, sizeof(*s));
  s->state = RS__SC_START;
}

void rs_http_scan_chunked(rs_http_scan_t *s) {
  memset(s, 0, sizeof(*s));
  s->state = RS__SC_CSIZE;
}

bool rs_http_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool rs_http_token(const char *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++)
    if (!rs_http_tchar((unsigned char)s[i])) return false;
  return true;
}

rs_http_value_t rs_http_value_check(const char *v, size_t n) {
  if (memchr(v, '\r', n) != NULL || memchr(v, '\n', n) != NULL) return RS_HTTP_VALUE_CRLF;
  if (memchr(v, '\0', n) != NULL) return RS_HTTP_VALUE_NUL;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)v[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f) return RS_HTTP_VALUE_CTL;
  }
  return RS_HTTP_VALUE_OK;
}

bool rs_http_hop_by_hop(const char *name, size_t n) {
  static const rs_str_t hop[] = {
    RS_STR("connection"), RS_STR("keep-alive"), RS_STR("proxy-connection"), RS_STR("te"),
    RS_STR("trailer"), RS_STR("transfer-encoding"), RS_STR("upgrade"),
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(hop); i++)
    if (rs_str_ieq(name, n, hop[i].p, hop[i].len)) return true;
  return false;
}

/* a[0..n) and b[0..n) equal, ASCII letters in any case (both sides). */
static bool rs__ascii_ieq(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = (char)(x + 32);
    if (y >= 'A' && y <= 'Z') y = (char)(y + 32);
    if (x != y) return false;
  }
  return true;
}

bool rs_http_conn_lists(const rs_str_t *conn, size_t nconn, const char *name, size_t n) {
  for (size_t k = 0; k < nconn; k++) {
    const char *v = conn[k].p, *end = v + conn[k].len;
    while (v < end) {
      while (v < end && (*v == ' ' || *v == '\t' || *v == ',')) v++;
      const char *s = v;
      while (v < end && *v != ',' && *v != ' ' && *v != '\t') v++;
      if (v > s && (size_t)(v - s) == n && rs__ascii_ieq(s, name, n)) return true;
    }
  }
  return false;
}

static int rs__hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

rs_http_scan_rc rs_http_scan(rs_http_scan_t *s, const char *p, size_t n, size_t *used) {
  size_t i = 0;
#define RS__BAD(reason) do { s->why = (reason); *used = i; return RS_HTTP_SCAN_BAD; } while (0)
  while (i < n) {
    unsigned char c = (unsigned char)p[i];
    switch (s->state) {
      case RS__SC_START:
        if (c == '\r') s->state = RS__SC_START_LF;
        else if (c == '\n') RS__BAD("bare LF");
        else if (c < 0x20 || c == 0x7f) RS__BAD("control byte in the request line");
        else s->state = RS__SC_LINE0;
        break;
      case RS__SC_START_LF:
        if (c != '\n') RS__BAD("CR not followed by LF");
        if (++s->empties > 8) RS__BAD("too many empty lines before the request line");
        s->state = RS__SC_START;
        break;
      case RS__SC_LINE0:
        if (c == '\r') s->state = RS__SC_LINE0_LF;
        else if (c == '\n') RS__BAD("bare LF in the request line");
        else if (c < 0x20 || c == 0x7f) RS__BAD("control byte in the request line");
        break;
      case RS__SC_LINE0_LF:
      case RS__SC_VALUE_LF:
        if (c != '\n') RS__BAD("CR not followed by LF");
        s->state = RS__SC_BOL;
        break;
      case RS__SC_BOL:
        if (c == '\r') {
          s->state = RS__SC_END_LF;
        } else if (c == ' ' || c == '\t') {
          s->why = "obs-fold (a line starting with whitespace)";
          *used = i;
          return RS_HTTP_SCAN_FOLD;
        } else if (c == ':') {
          RS__BAD("empty header name");
        } else if (c == '\n') {
          RS__BAD("bare LF");
        } else if (!rs_http_tchar(c)) {
          RS__BAD("invalid character in a header name");
        } else {
          s->state = RS__SC_NAME;
        }
        break;
      case RS__SC_NAME:
        if (c == ':') s->state = RS__SC_VALUE;
        else if (c == ' ' || c == '\t') RS__BAD("whitespace before the colon");
        else if (c == '\r' || c == '\n') RS__BAD("header line without a colon");
        else if (!rs_http_tchar(c)) RS__BAD("invalid character in a header name");
        break;
      case RS__SC_VALUE:
        if (c == '\r') s->state = RS__SC_VALUE_LF;
        else if (c == '\n') RS__BAD("bare LF in a header line");
        else if ((c < 0x20 && c != '\t') || c == 0x7f) RS__BAD("control byte in a header value");
        break;
      case RS__SC_END_LF:
        if (c != '\n') RS__BAD("CR not followed by LF at the end of the header section");
        s->state = RS__SC_DONE;
        *used = i + 1;
        return RS_HTTP_SCAN_DONE;
      case RS__SC_CSIZE:
      case RS__SC_CEXT:
        if (++s->line > RS_HTTP_CHUNK_LINE_MAX) {
          s->why = "chunk-size line over 16 KB";
          *used = i;
          return RS_HTTP_SCAN_LONG;
        }
        if (c == '\r') {
          if (!s->digits) RS__BAD("chunk without a size");
          s->state = RS__SC_CSIZE_LF;
        } else if (c == '\n') {
          RS__BAD("bare LF in a chunk-size line");
        } else if (s->state == RS__SC_CSIZE && rs__hexval(c) >= 0) {
          if (s->left >> 59) RS__BAD("chunk size too large");
          s->left = s->left * 16 + (uint64_t)rs__hexval(c);
          s->digits = true;
        } else if (!s->digits) {
          RS__BAD("invalid chunk size");
        } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
          RS__BAD("control byte in chunk extensions");
        } else {
          s->state = RS__SC_CEXT;  /* llhttp checks their grammar */
        }
        break;
      case RS__SC_CSIZE_LF:
        if (c != '\n') RS__BAD("CR not followed by LF after a chunk size");
        s->line = 0;
        s->digits = false;
        if (s->left == 0) {
          s->trailers = true;
          s->state = RS__SC_BOL;
        } else {
          s->state = RS__SC_CDATA;
        }
        break;
      case RS__SC_CDATA: {
        size_t take = n - i < s->left ? n - i : (size_t)s->left;
        s->left -= take;
        i += take;
        if (s->left == 0) s->state = RS__SC_CDATA_CR;
        continue;
      }
      case RS__SC_CDATA_CR:
        if (c != '\r') RS__BAD("chunk data not followed by CRLF");
        s->state = RS__SC_CDATA_LF;
        break;
      case RS__SC_CDATA_LF:
        if (c != '\n') RS__BAD("chunk data not followed by CRLF");
        s->state = RS__SC_CSIZE;
        break;
      default:                   /* RS__SC_DONE: nothing more belongs to it */
        *used = 0;
        return RS_HTTP_SCAN_DONE;
    }
    i++;
  }
#undef RS__BAD
  *used = n;
  return RS_HTTP_SCAN_MORE;
}

/* ------------------------------------------------------------------ hosts and paths */

static bool rs__unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

const char *rs_http_host_normalize(char *p, size_t *len) {
  size_t n = *len, h;            /* h: the host's length */
  if (n == 0) return "empty host";
  if (p[0] == '[') {
    const char *close = memchr(p, ']', n);
    if (close == NULL) return "unterminated IP literal";
    h = (size_t)(close - p) + 1;
    char ip[64];
    if (h - 2 >= sizeof(ip)) return "invalid IP literal";
    for (size_t i = 1; i + 1 < h; i++) {
      char c = p[i];
      if (c >= 'A' && c <= 'F') p[i] = (char)(c + 32);
      else if (!(rs__hexval((unsigned char)c) >= 0 || c == ':' || c == '.')) return "invalid IP literal";
    }
    memcpy(ip, p + 1, h - 2);
    ip[h - 2] = '\0';
    struct in6_addr a;
    if (inet_pton(AF_INET6, ip, &a) != 1) return "invalid IPv6 literal";
  } else {
    h = 0;
    while (h < n && p[h] != ':') {
      unsigned char c = (unsigned char)p[h];
      if (!rs__unreserved(c)) return "invalid character in host";
      if (c >= 'A' && c <= 'Z') p[h] = (char)(c + 32);
      if (c == '.' && (h == 0 || p[h - 1] == '.')) return "empty label in host";
      h++;
    }
    if (h == 0) return "empty host";
  }
  size_t port = h;               /* where ":port" starts */
  if (port < n) {
    if (p[port] != ':') return "invalid character after the host";
    size_t digits = n - port - 1;
    if (digits > 5) return "invalid port";
    unsigned v = 0;
    for (size_t i = port + 1; i < n; i++) {
      if (p[i] < '0' || p[i] > '9') return "invalid port";
      v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v > 65535) return "invalid port";
    if (digits == 0) n = port;   /* "host:" is "host" */
  }
  if (p[0] != '[' && h > 1 && p[h - 1] == '.') {   /* "example.com." */
    memmove(p + h - 1, p + h, n - h);
    n--;
    h--;
  }
  *len = n;
  return NULL;
}

/* Bytes the canonical path keeps percent-encoded: those WHATWG's path
 * percent-encode set holds (C0 controls, SP, '"', '#', '<', '>', '?', '`',
 * '{', '}', DEL and above), and '%' itself, so that one decoding gives the
 * path back. Everything else is written as itself. */
static bool rs__path_encoded(unsigned char c) {
  return c <= 0x20 || c >= 0x7f || c == '"' || c == '#' || c == '%' || c == '<' || c == '>' ||
         c == '?' || c == '`' || c == '{' || c == '}';
}

const char *rs_http_path_normalize(const char *in, size_t n, char *out, size_t *out_len) {
  static const char hex[] = "0123456789ABCDEF";
  if (n == 0 || in[0] != '/') return "path does not start with '/'";
  size_t o = 0, seg = 1;         /* seg: where the current segment starts in out */
  out[o++] = '/';
  size_t i = 1;
  for (;;) {
    int c;
    if (i == n) {
      c = -1;
    } else if (in[i] == '%') {
      int hi = n - i >= 3 ? rs__hexval((unsigned char)in[i + 1]) : -1;
      int lo = n - i >= 3 ? rs__hexval((unsigned char)in[i + 2]) : -1;
      if (hi < 0 || lo < 0) return "malformed %-escape";
      c = hi * 16 + lo;
      i += 3;
    } else {
      c = (unsigned char)in[i++];
    }
    if (c == -1 || c == '/') {   /* a segment ends ('.' is never encoded) */
      size_t len = o - seg;
      if (len == 1 && out[seg] == '.') {
        o = seg;                 /* "/a/./b": drop the "." */
      } else if (len == 2 && out[seg] == '.' && out[seg + 1] == '.') {
        if (seg == 1) return "\"..\" above the root";
        o = seg - 1;             /* the '/' before ".." */
        while (out[o - 1] != '/') o--;
        seg = o;
      } else if (c == '/' && len > 0) {
        out[o++] = '/';          /* a slash after an empty segment merges */
        seg = o;
      }
      if (c == -1) break;
      continue;
    }
    if (c == 0) return "NUL in path";
    if (c < 0x20 || c == 0x7f) return "control byte in path";
    if (rs__path_encoded((unsigned char)c)) {
      out[o++] = '%';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    } else {
      out[o++] = (char)c;
    }
  }
  *out_len = o;
  return NULL;
}

size_t rs_url_decode(char *dst, const char *src, size_t len, bool plus) {
  static const signed char hex[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
    ['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
  };
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)src[i];
    if (c == '%' && i + 2 < len && hex[(unsigned char)src[i + 1]] && hex[(unsigned char)src[i + 2]]) {
      dst[o++] = (char)((hex[(unsigned char)src[i + 1]] - 1) * 16 + hex[(unsigned char)src[i + 2]] - 1);
      i += 2;
    } else {
      dst[o++] = plus && c == '+' ? ' ' : (char)c;
    }
  }
  return o;
}
