/* core/http/rs_logfmt.c — see rs_logfmt.h.
 *
 * A compiled format is a list of parts: literal text or a variable (with
 * the header name for $http_NAME), rendered in order. */
#include "rs_logfmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rs_conn.h"

#define RS__VARS(X)                                          \
  X(REMOTE_ADDR, "remote_addr")                              \
  X(REMOTE_USER, "remote_user")                              \
  X(TIME_LOCAL, "time_local")                                \
  X(TIME_ISO8601, "time_iso8601")                            \
  X(MSEC, "msec")                                            \
  X(REQUEST, "request")                                      \
  X(REQUEST_METHOD, "request_method")                        \
  X(REQUEST_URI, "request_uri")                              \
  X(URI, "uri")                                              \
  X(ARGS, "args")                                            \
  X(QUERY_STRING, "query_string")                            \
  X(SERVER_PROTOCOL, "server_protocol")                      \
  X(STATUS, "status")                                        \
  X(BODY_BYTES_SENT, "body_bytes_sent")                      \
  X(BYTES_SENT, "bytes_sent")                                \
  X(REQUEST_TIME, "request_time")                            \
  X(REQUEST_ID, "request_id")                                \
  X(HOST, "host")                                            \
  X(PID, "pid")                                              \
  X(SCHEME, "scheme")                                        \
  X(HTTPS, "https")                                          \
  X(SSL_PROTOCOL, "ssl_protocol")                            \
  X(SSL_CIPHER, "ssl_cipher")                                \
  X(SSL_SERVER_NAME, "ssl_server_name")                      \
  X(SSL_SESSION_REUSED, "ssl_session_reused")
typedef enum {
  RS__LIT = 0,
#define RS__X(e, s) RS__V_##e,
  RS__VARS(RS__X)
#undef RS__X
  RS__V_HTTP,                    /* $http_NAME */
  RS__V_FIELD,                   /* an owner's field (rs_log_field_t in .field) */
} rs__kind_t;

static const char *const rs__var_names[] = {
  NULL,
#define RS__X(e, s) s,
  RS__VARS(RS__X)
#undef RS__X
};
static const char *const rs__field_names[] = {
#define RS__X(e, s) s,
  RS_LOG_FIELDS(RS__X)
#undef RS__X
};

typedef struct {
  rs__kind_t kind;
  int field;
  char *text;                    /* a literal, or $http_NAME's lower-case name with '-' */
  size_t len;
  bool quoted;                   /* json: inside a "...", values escaped as JSON strings */
} rs__part_t;

struct rs_logfmt_s {
  rs__part_t *parts;
  size_t nparts;
  bool json;                     /* escape=json */
};

static const char rs__combined[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" "
    "\"$http_user_agent\"";
static const char rs__json[] =
    "{\"time\":\"$time_iso8601\",\"remote_addr\":\"$remote_addr\",\"request_id\":\"$request_id\","
    "\"request\":\"$request\",\"status\":$status,\"body_bytes_sent\":$body_bytes_sent,"
    "\"request_time\":$request_time,\"upstream_response_time\":\"$upstream_response_time\","
    "\"cache_status\":\"$cache_status\",\"route\":\"$route\",\"host\":\"$host\","
    "\"http_referer\":\"$http_referer\",\"http_user_agent\":\"$http_user_agent\"}";

static void rs__add(rs_logfmt_t *f, rs__kind_t kind, int field, const char *text, size_t len) {
  f->parts = rs_xrealloc(f->parts, (f->nparts + 1) * sizeof(*f->parts));
  rs__part_t *p = &f->parts[f->nparts++];
  p->kind = kind;
  p->field = field;
  p->text = text ? rs_xstrndup(text, len) : NULL;
  p->len = len;
  p->quoted = false;
}

static bool rs__name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The variable name[0..n) into a part; false when unknown. */
static bool rs__var(rs_logfmt_t *f, const char *name, size_t n) {
  for (size_t i = 1; i < RS_ARRAY_SIZE(rs__var_names); i++)
    if (strlen(rs__var_names[i]) == n && memcmp(rs__var_names[i], name, n) == 0) {
      rs__add(f, (rs__kind_t)i, 0, NULL, 0);
      return true;
    }
  for (size_t i = 0; i < RS_LOG_F_MAX; i++)
    if (strlen(rs__field_names[i]) == n && memcmp(rs__field_names[i], name, n) == 0) {
      rs__add(f, RS__V_FIELD, (int)i, NULL, 0);
      return true;
    }
  if (n > 5 && memcmp(name, "http_", 5) == 0) {
    rs__add(f, RS__V_HTTP, 0, name + 5, n - 5);
    for (char *p = f->parts[f->nparts - 1].text; *p; p++) {
      if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
      if (*p == '_') *p = '-';
    }
    return true;
  }
  return false;
}

rs_logfmt_t *rs_logfmt_compile(const char *spec, bool json, char *err, size_t errlen) {
  if (strcmp(spec, "combined") == 0) return rs_logfmt_compile(rs__combined, false, err, errlen);
  if (strcmp(spec, "timed") == 0) {
    char t[sizeof(rs__combined) + 16];
    snprintf(t, sizeof(t), "%s $request_time", rs__combined);
    return rs_logfmt_compile(t, false, err, errlen);
  }
  if (strcmp(spec, "json") == 0) return rs_logfmt_compile(rs__json, true, err, errlen);
  rs_logfmt_t *f = rs_xcalloc(1, sizeof(*f));
  f->json = json;
  const char *p = spec, *lit = spec;
  while (*p) {
    if (*p != '$') {
      p++;
      continue;
    }
    if (p > lit) rs__add(f, RS__LIT, 0, lit, (size_t)(p - lit));
    const char *name = p + 1, *end;
    bool brace = *name == '{';
    if (brace) name++;
    for (end = name; rs__name_char(*end); end++) {}
    if (end == name) {
      snprintf(err, errlen, "'$' without a variable name at \"%.20s\" (a literal '$' cannot be written)", p);
      goto fail;
    }
    if (brace && *end != '}') {
      snprintf(err, errlen, "unclosed '${' at \"%.20s\"", p);
      goto fail;
    }
    if (!rs__var(f, name, (size_t)(end - name))) {
      snprintf(err, errlen, "unknown variable '$%.*s' (nginx's names: remote_addr, time_local, time_iso8601, "
               "request, status, body_bytes_sent, request_time, request_id, host, http_NAME, route, "
               "cache_status, upstream_response_time...)", (int)(end - name), name);
      goto fail;
    }
    p = lit = brace ? end + 1 : end;
  }
  if (p > lit) rs__add(f, RS__LIT, 0, lit, (size_t)(p - lit));
  /* json: a variable inside a JSON string ("...$x...") is escaped as a
   * string's contents; one outside (a number) as it is. Count the quotes
   * of the literals before it. */
  if (json) {
    bool in = false;
    for (size_t i = 0; i < f->nparts; i++) {
      rs__part_t *q = &f->parts[i];
      if (q->kind == RS__LIT) {
        for (size_t k = 0; k < q->len; k++)
          if (q->text[k] == '"' && (k == 0 || q->text[k - 1] != '\\')) in = !in;
      } else {
        q->quoted = in;
      }
    }
  }
  return f;
fail:
  rs_logfmt_free(f);
  return NULL;
}

void rs_logfmt_free(rs_logfmt_t *f) {
  if (f == NULL) return;
  for (size_t i = 0; i < f->nparts; i++) free(f->parts[i].text);
  free(f->parts);
  free(f);
}

/* ------------------------------------------------------------ rendering */

/* nginx's escape=default: '"', '\' and bytes outside printable ASCII as
 * \xHH, so a client cannot forge a field or a line. */
static void rs__esc_default(rs_buf_t *b, const char *p, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  rs_buf_reserve(b, n * 4);
  char *o = b->p + b->len;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
      *o++ = '\\', *o++ = 'x', *o++ = hex[ch >> 4], *o++ = hex[ch & 15];
    } else {
      *o++ = (char)ch;
    }
  }
  b->len = (size_t)(o - b->p);
}

/* nginx's escape=json: '"' and '\' backslashed, \n \r \t \b \f, other
 * bytes below 0x20 as \u00HH; the rest (UTF-8) as it is. */
static void rs__esc_json(rs_buf_t *b, const char *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  rs_buf_reserve(b, n * 6);
  char *o = b->p + b->len;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    switch (ch) {
      case '"': *o++ = '\\', *o++ = '"'; break;
      case '\\': *o++ = '\\', *o++ = '\\'; break;
      case '\n': *o++ = '\\', *o++ = 'n'; break;
      case '\r': *o++ = '\\', *o++ = 'r'; break;
      case '\t': *o++ = '\\', *o++ = 't'; break;
      case '\b': *o++ = '\\', *o++ = 'b'; break;
      case '\f': *o++ = '\\', *o++ = 'f'; break;
      default:
        if (ch < 0x20) {
          *o++ = '\\', *o++ = 'u', *o++ = '0', *o++ = '0', *o++ = hex[ch >> 4], *o++ = hex[ch & 15];
        } else {
          *o++ = (char)ch;
        }
    }
  }
  b->len = (size_t)(o - b->p);
}

static void rs__value(const rs_logfmt_t *f, const rs__part_t *q, rs_buf_t *b, const char *p, size_t n) {
  if (f->json) {
    if (q->quoted) rs__esc_json(b, p, n);
    else if (n) rs__esc_json(b, p, n);
    else rs_buf_append(b, "null", 4);   /* an empty number would break the object */
    return;
  }
  if (n == 0) rs_buf_append(b, "-", 1);
  else rs__esc_default(b, p, n);
}

static void rs__num(const rs_logfmt_t *f, const rs__part_t *q, rs_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void rs__num(const rs_logfmt_t *f, const rs__part_t *q, rs_buf_t *b, const char *fmt, ...) {
  char num[48];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(num, sizeof(num), fmt, ap);
  va_end(ap);
  rs__value(f, q, b, num, n > 0 ? (size_t)n : 0);
}

static const char *rs__str(const rs_str_t *s, size_t *n) {
  *n = s != NULL && s->p != NULL ? s->len : 0;
  return *n ? s->p : "";
}

void rs_logfmt_render(const rs_logfmt_t *f, const rs_req_t *r, const rs_logfmt_vars_t *v, rs_buf_t *b) {
  for (size_t i = 0; i < f->nparts; i++) {
    const rs__part_t *q = &f->parts[i];
    size_t n;
    const char *s;
    switch (q->kind) {
      case RS__LIT: rs_buf_append(b, q->text, q->len); break;
      case RS__V_REMOTE_ADDR: rs__value(f, q, b, v->remote_addr, strlen(v->remote_addr)); break;
      case RS__V_REMOTE_USER: rs__value(f, q, b, "", 0); break;
      case RS__V_TIME_LOCAL: rs__value(f, q, b, v->time_local, strlen(v->time_local)); break;
      case RS__V_TIME_ISO8601: rs__value(f, q, b, v->time_iso8601, strlen(v->time_iso8601)); break;
      case RS__V_MSEC:
        rs__num(f, q, b, "%llu.%03llu", (unsigned long long)(v->now_ms / 1000), (unsigned long long)(v->now_ms % 1000));
        break;
      case RS__V_REQUEST: {
        rs_buf_t t = { 0 };
        size_t ml, ul;
        const char *m = rs__str(&r->method, &ml), *u = rs__str(&r->url, &ul);
        rs_buf_append(&t, m, ml);
        rs_buf_append(&t, " ", 1);
        rs_buf_append(&t, u, RS_MIN(ul, 2048));
        rs_buf_printf(&t, " HTTP/%d.%d", r->http_major, r->http_minor);
        rs__value(f, q, b, t.p, t.len);
        rs_buf_free(&t);
        break;
      }
      case RS__V_REQUEST_METHOD: s = rs__str(&r->method, &n), rs__value(f, q, b, s, n); break;
      case RS__V_REQUEST_URI: s = rs__str(&r->url, &n), rs__value(f, q, b, s, RS_MIN(n, 2048)); break;
      case RS__V_URI: s = rs__str(&r->path, &n), rs__value(f, q, b, s, RS_MIN(n, 2048)); break;
      case RS__V_ARGS:
      case RS__V_QUERY_STRING: s = rs__str(&r->query, &n), rs__value(f, q, b, s, RS_MIN(n, 2048)); break;
      case RS__V_SERVER_PROTOCOL: rs__num(f, q, b, "HTTP/%d.%d", r->http_major, r->http_minor); break;
      case RS__V_STATUS: rs__num(f, q, b, "%d", v->status); break;
      case RS__V_BODY_BYTES_SENT: rs__num(f, q, b, "%zu", v->body_bytes_sent); break;
      case RS__V_BYTES_SENT: rs__num(f, q, b, "%zu", v->bytes_sent); break;
      case RS__V_REQUEST_TIME:
        rs__num(f, q, b, "%llu.%03llu", (unsigned long long)(v->request_time_us / 1000000),
                (unsigned long long)(v->request_time_us / 1000 % 1000));
        break;
      case RS__V_REQUEST_ID: rs__num(f, q, b, "%016llx", (unsigned long long)r->id); break;
      case RS__V_HOST: s = rs__str(&r->host, &n), rs__value(f, q, b, s, n); break;
      case RS__V_PID: rs__num(f, q, b, "%d", (int)getpid()); break;
      case RS__V_SCHEME: rs__value(f, q, b, r->tls ? "https" : "http", r->tls ? 5 : 4); break;
      case RS__V_HTTPS: rs__value(f, q, b, r->tls ? "on" : "", r->tls ? 2 : 0); break;
      case RS__V_SSL_PROTOCOL: s = v->ssl_protocol ? v->ssl_protocol : "", rs__value(f, q, b, s, strlen(s)); break;
      case RS__V_SSL_CIPHER: s = v->ssl_cipher ? v->ssl_cipher : "", rs__value(f, q, b, s, strlen(s)); break;
      case RS__V_SSL_SERVER_NAME:
        s = v->ssl_server_name ? v->ssl_server_name : "", rs__value(f, q, b, s, strlen(s));
        break;
      case RS__V_SSL_SESSION_REUSED:
        rs__value(f, q, b, v->ssl_protocol ? (v->ssl_reused ? "r" : ".") : "", v->ssl_protocol ? 1 : 0);
        break;
      case RS__V_HTTP: {
        const rs_str_t *h = r->nheaders ? rs_req_header(r, q->text) : NULL;
        s = rs__str(h, &n);
        rs__value(f, q, b, s, n);
        break;
      }
      case RS__V_FIELD: s = rs__str(&r->log[q->field], &n), rs__value(f, q, b, s, n); break;
    }
  }
  rs_buf_append(b, "\n", 1);
}

