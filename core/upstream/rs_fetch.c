/* core/upstream/rs_fetch.c — the buffered fetch of rs_upstream.h (the contract Lua's
 * ssr.fetch and the page cache use), on top of an exchange: it builds the
 * request (Host from the upstream's name or the URL, Content-Length for a
 * body, Connection: close to a URL's server, which has no pool), resolves a
 * URL's host name with uv_getaddrinfo when it is not a literal address,
 * collects the body up to max_body, and calls back once. */
#include "rs_upstream.h"

#include "rs_config.h"
#include "rs_http.h"
#include "rs_log.h"
#include "rs_loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ fetch */

struct rs_fetch_s {
  rs_loop_t *loop;
  rs_upstreams_t *u;
  rs_uhttp_t *x;
  rs_fetch_cb cb;
  void *ud;
  uv_getaddrinfo_t *gai;         /* resolving a URL's host name */
  char *head;                    /* the request, kept while resolving */
  size_t head_len;
  char *body;
  size_t body_len;
  size_t max_body;
  uint64_t deadline;
  char host[256];
  int port;
  int status;
  const rs_fetch_header_t *headers;
  size_t nheaders;
  rs_buf_t rbody;
  bool idempotent, head_only;
  bool tls, tls_no_verify;       /* an https:// URL */
  char *tls_sni, *tls_ca;
};

const char *rs_fetch_strerror(int err) {
  switch (err) {
    case 0: return "ok";
    case -ECONNREFUSED: return "connection refused";
    case -ETIMEDOUT: return "timeout";
    case -ECONNRESET: return "connection closed before the response ended";
    case -EFBIG: return "response body too large";
    case -EPROTO: return "bad HTTP response";
    case -ENOENT: return "no such upstream";
    case -EINVAL: return "bad URL";
    case -EHOSTUNREACH: return "no server up";
    case -ESHUTDOWN: return "shutting down";
    case -ECANCELED: return "cancelled";
    case -EKEYREJECTED: return "TLS certificate verification failed";
    case -EBADE: return "TLS handshake failed";
    default: return err < 0 ? uv_strerror(err) : "unknown error";
  }
}


static void rs__fetch_free(rs_fetch_t *f) {
  rs__upstream_fetch_gauge(f->loop, -1);
  free(f->head);
  free(f->body);
  free(f->tls_sni);
  free(f->tls_ca);
  rs_buf_free(&f->rbody);
  free(f);
}

static void rs__fetch_on_head(void *ud, int status, const rs_fetch_header_t *h, size_t n, int64_t clen,
                              bool chunked, bool to_eof) {
  rs_fetch_t *f = ud;
  (void)chunked, (void)to_eof;
  f->status = status;
  f->headers = h;
  f->nheaders = n;
  if (clen > 0 && (uint64_t)clen > f->max_body) {
    rs_fetch_cb cb = f->cb;
    void *cud = f->ud;
    rs_uhttp_cancel(f->x);
    f->x = NULL;
    rs__fetch_free(f);
    cb(cud, -EFBIG, NULL);
  }
}

static void rs__fetch_on_body(void *ud, const char *p, size_t n) {
  rs_fetch_t *f = ud;
  if (f->rbody.len + n > f->max_body) {
    rs_fetch_cb cb = f->cb;
    void *cud = f->ud;
    rs_uhttp_cancel(f->x);
    f->x = NULL;
    rs__fetch_free(f);
    cb(cud, -EFBIG, NULL);
    return;
  }
  rs_buf_append(&f->rbody, p, n);
}

static void rs__fetch_on_done(void *ud, int err) {
  rs_fetch_t *f = ud;
  f->x = NULL;
  rs_fetch_cb cb = f->cb;
  void *cud = f->ud;
  if (err != 0) {
    rs__fetch_free(f);
    cb(cud, err, NULL);
    return;
  }
  rs_fetch_result_t res = { .status = f->status, .headers = f->headers, .nheaders = f->nheaders,
                            .body = f->rbody.p ? f->rbody.p : "", .body_len = f->rbody.len };
  /* The headers live in the exchange, which ends after this returns; the
   * fetch's own memory goes after the callback too. */
  rs__upstream_fetch_gauge(f->loop, -1);
  cb(cud, 0, &res);
  free(f->head);
  free(f->body);
  free(f->tls_sni);
  free(f->tls_ca);
  rs_buf_free(&f->rbody);
  free(f);
}

static const rs_uhttp_cbs_t rs__fetch_cbs = { rs__fetch_on_head, rs__fetch_on_body, rs__fetch_on_done, NULL,
                                             NULL };

/* Parse "http[s]://host[:port][/path]" into host, port, TLS and the path's
 * offset. */
static int rs__url_parse(const char *url, char *host, size_t hcap, int *port, bool *tls, const char **path) {
  *tls = strncmp(url, "https://", 8) == 0;
  if (!*tls && strncmp(url, "http://", 7) != 0) return -EINVAL;
  const char *h = url + (*tls ? 8 : 7), *end;
  const char *hp_end = h + strcspn(h, "/?#");
  *port = *tls ? 443 : 80;
  if (*h == '[') {
    end = memchr(h, ']', (size_t)(hp_end - h));
    if (end == NULL) return -EINVAL;
    if ((size_t)(end - h - 1) >= hcap || end == h + 1) return -EINVAL;
    memcpy(host, h + 1, (size_t)(end - h - 1));
    host[end - h - 1] = '\0';
    end++;
  } else {
    end = memchr(h, ':', (size_t)(hp_end - h));
    if (end == NULL) end = hp_end;
    if ((size_t)(end - h) >= hcap || end == h) return -EINVAL;
    memcpy(host, h, (size_t)(end - h));
    host[end - h] = '\0';
  }
  if (end < hp_end) {
    if (*end != ':' || end + 1 == hp_end) return -EINVAL;
    long v = 0;
    for (const char *q = end + 1; q < hp_end; q++) {
      if (*q < '0' || *q > '9') return -EINVAL;
      v = v * 10 + (*q - '0');
      if (v > 65535) return -EINVAL;
    }
    if (v == 0) return -EINVAL;
    *port = (int)v;
  }
  if (*hp_end == '#') return -EINVAL;
  *path = hp_end;
  return 0;
}

static bool rs__header_given(const rs_fetch_opts_t *o, const char *lname) {
  for (size_t i = 0; i < o->nheaders; i++)
    if (rs_str_ieq(o->headers[i].name.p, o->headers[i].name.len, lname, strlen(lname))) return true;
  return false;
}

static int rs__fetch_go(rs_fetch_t *f, const struct sockaddr *sa, const char *upstream) {
  char name[300];
  snprintf(name, sizeof(name), "%s:%d", f->host, f->port);
  rs_uhttp_opts_t o = { .upstream = upstream, .addr = sa, .addr_name = name, .head = f->head,
                        .head_len = f->head_len, .body = f->body, .body_len = f->body_len,
                        .idempotent = f->idempotent, .head_only = f->head_only, .keepalive = upstream != NULL,
                        .deadline_ms = f->deadline, .tls = f->tls, .tls_no_verify = f->tls_no_verify,
                        .tls_host = f->host, .tls_sni = f->tls_sni, .tls_ca = f->tls_ca };
  f->head = NULL;                /* the exchange has it now */
  int err = 0;
  f->x = rs_uhttp_start(f->u, &o, &rs__fetch_cbs, f, &err);
  return f->x != NULL ? 0 : err;
}

static void rs__fetch_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  rs_fetch_t *f = req->data;
  f->gai = NULL;
  free(req);
  if (f->cb == NULL) {           /* cancelled while resolving */
    if (res) uv_freeaddrinfo(res);
    rs__fetch_free(f);
    return;
  }
  int err = status == 0 && res != NULL ? 0 : -EHOSTUNREACH;
  if (err == 0) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, res->ai_addr, res->ai_addrlen);
    ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)f->port);  /* same offset in v6 */
    err = rs__fetch_go(f, (struct sockaddr *)&ss, NULL);
  } else {
    rs_log_info("fetch: cannot resolve %s: %s", f->host, uv_strerror(status));
  }
  if (res) uv_freeaddrinfo(res);
  if (err != 0) {
    rs_fetch_cb cb = f->cb;
    void *ud = f->ud;
    rs__fetch_free(f);
    cb(ud, err, NULL);
  }
}

/* Where a fetch goes: a URL's server, or a named upstream. */
typedef struct {
  bool is_url, tls;
  char host[256];                /* a URL's host */
  int port;
  const char *upath;             /* a URL's path and query ("" for none) */
  const rs_upstream_conf_t *uc;  /* the named upstream */
} rs__target_t;

/* Check opts (the method and header names are tokens, values hold no
 * control byte, paths no space, CR or LF) and find where it goes. Returns
 * 0, -EINVAL or -ENOENT (no such upstream). */
static int rs__fetch_check(rs_upstreams_t *u, const rs_fetch_opts_t *opts, const char *method, rs__target_t *t) {
  if (!rs_http_token(method, strlen(method))) return -EINVAL;
  for (size_t i = 0; i < opts->nheaders; i++) {
    const rs_fetch_header_t *h = &opts->headers[i];
    if (!rs_http_token(h->name.p, h->name.len) || rs_http_value_check(h->value.p, h->value.len) != RS_HTTP_VALUE_OK)
      return -EINVAL;
  }
  if (opts->path != NULL && strpbrk(opts->path, " \r\n\t") != NULL) return -EINVAL;
  memset(t, 0, sizeof(*t));
  t->upath = "";
  t->is_url = strncmp(opts->target, "http://", 7) == 0 || strncmp(opts->target, "https://", 8) == 0;
  if (t->is_url) {
    if (rs__url_parse(opts->target, t->host, sizeof(t->host), &t->port, &t->tls, &t->upath) != 0 ||
        strpbrk(t->upath, " \r\n\t") != NULL)
      return -EINVAL;
    return 0;
  }
  if (strstr(opts->target, "://") != NULL) return -EINVAL;   /* ftp:// and friends */
  t->uc = rs_config_upstream(rs__upstreams_cfg(u), opts->target);
  return t->uc != NULL ? 0 : -ENOENT;
}

/* The request head: the request line, Host (unless given), the caller's
 * headers but the hop-by-hop ones and Content-Length, Content-Length for a
 * body (and for POST, PUT, PATCH), Connection: close to a URL's server. */
static void rs__fetch_head(rs_buf_t *b, const rs_fetch_opts_t *opts, const char *method, const rs__target_t *t) {
  const char *p1 = t->is_url ? t->upath : "";
  const char *p2 = opts->path ? opts->path : "";
  if (*p1 == '\0' && *p2 == '\0') p2 = "/";
  else if (*p1 == '\0' && *p2 != '/') p1 = "/";
  rs_buf_printf(b, "%s %s%s HTTP/1.1\r\n", method, p1, p2);
  if (!rs__header_given(opts, "host")) {
    if (t->is_url) {
      bool v6 = strchr(t->host, ':') != NULL;
      if (t->port == (t->tls ? 443 : 80)) rs_buf_printf(b, "Host: %s%s%s\r\n", v6 ? "[" : "", t->host, v6 ? "]" : "");
      else rs_buf_printf(b, "Host: %s%s%s:%d\r\n", v6 ? "[" : "", t->host, v6 ? "]" : "", t->port);
    } else {
      rs_buf_printf(b, "Host: %s\r\n", t->uc->name);
    }
  }
  for (size_t i = 0; i < opts->nheaders; i++) {
    const rs_fetch_header_t *h = &opts->headers[i];
    if (rs_http_hop_by_hop(h->name.p, h->name.len) || rs_str_ieq(h->name.p, h->name.len, "content-length", 14))
      continue;                  /* ours */
    rs_buf_printf(b, "%.*s: %.*s\r\n", (int)h->name.len, h->name.p, (int)h->value.len, h->value.p);
  }
  bool has_body = opts->body != NULL;
  bool needs_cl = has_body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                  strcmp(method, "PATCH") == 0;
  if (needs_cl) rs_buf_printf(b, "Content-Length: %zu\r\n", has_body ? opts->body_len : 0);
  if (t->is_url) rs_buf_append(b, "Connection: close\r\n", 19);
  rs_buf_append(b, "\r\n", 2);
}

/* Send f on its way: a literal address at once, a host name once resolved
 * (uv_getaddrinfo), an upstream's servers at once. Returns 0 or -errno. */
static int rs__fetch_connect(rs_fetch_t *f, const rs__target_t *t) {
  if (!t->is_url) return rs__fetch_go(f, NULL, t->uc->name);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  if (uv_ip4_addr(t->host, t->port, (struct sockaddr_in *)&ss) == 0 ||
      uv_ip6_addr(t->host, t->port, (struct sockaddr_in6 *)&ss) == 0)
    return rs__fetch_go(f, (struct sockaddr *)&ss, NULL);
  f->gai = rs_xmalloc(sizeof(*f->gai));
  f->gai->data = f;
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (uv_getaddrinfo(&f->loop->uv, f->gai, rs__fetch_on_resolved, t->host, NULL, &hints) != 0) {
    free(f->gai);
    f->gai = NULL;
    return -EHOSTUNREACH;
  }
  return 0;
}

rs_fetch_t *rs_fetch_start(rs_loop_t *loop, const rs_fetch_opts_t *opts, rs_fetch_cb cb, void *ud,
                           int *err_out) {
  int dummy;
  if (err_out == NULL) err_out = &dummy;
  rs_upstreams_t *u = loop->upstreams;
  if (u == NULL || opts == NULL || opts->target == NULL || cb == NULL) {
    *err_out = u == NULL ? -ESHUTDOWN : -EINVAL;
    return NULL;
  }
  const char *method = opts->method ? opts->method : "GET";
  rs__target_t t;
  int err = rs__fetch_check(u, opts, method, &t);
  if (err != 0) {
    *err_out = err;
    return NULL;
  }
  rs_buf_t b = { 0 };
  rs__fetch_head(&b, opts, method, &t);

  rs_fetch_t *f = rs_xcalloc(1, sizeof(*f));
  f->loop = loop;
  f->u = u;
  f->cb = cb;
  f->ud = ud;
  f->head = b.p;
  f->head_len = b.len;
  if (opts->body != NULL && opts->body_len > 0) {
    f->body = rs_xmalloc(opts->body_len);
    memcpy(f->body, opts->body, opts->body_len);
    f->body_len = opts->body_len;
  }
  f->max_body = opts->max_body ? opts->max_body : (size_t)8 << 20;
  uint64_t total = opts->timeout_ms ? opts->timeout_ms : t.is_url ? RS_UPSTREAM_URL_TIMEOUT_MS : 0;
  f->deadline = total ? uv_now(&loop->uv) + total : 0;
  f->idempotent = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 || strcmp(method, "PUT") == 0 ||
                  strcmp(method, "DELETE") == 0 || strcmp(method, "OPTIONS") == 0;
  f->head_only = strcmp(method, "HEAD") == 0;
  snprintf(f->host, sizeof(f->host), "%s", t.is_url ? t.host : t.uc->name);
  f->port = t.port;
  f->tls = t.tls;
  f->tls_no_verify = opts->tls_no_verify;
  f->tls_sni = t.tls && opts->tls_sni ? rs_xstrdup(opts->tls_sni) : NULL;
  f->tls_ca = t.tls && opts->tls_ca ? rs_xstrdup(opts->tls_ca) : NULL;
  rs__upstream_fetch_gauge(loop, 1);
  err = rs__fetch_connect(f, &t);
  if (err != 0) {
    rs__fetch_free(f);
    *err_out = err;
    return NULL;
  }
  return f;
}

void rs_fetch_cancel(rs_fetch_t *f) {
  if (f == NULL) return;
  if (f->gai != NULL) {
    /* The resolver's callback frees f (uv_cancel makes it come sooner). */
    f->cb = NULL;
    uv_cancel((uv_req_t *)f->gai);
    return;
  }
  rs_uhttp_cancel(f->x);
  f->x = NULL;
  rs__fetch_free(f);
}
