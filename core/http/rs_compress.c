/* core/http/rs_compress.c — see rs_compress.h.
 *
 * Three steps, each answer: scan the answer's header lines (type, coding,
 * range, no-transform, Vary, ETag), decide (eligible? which coding does the
 * client prefer?), then rewrite the header block and compress the body,
 * whole (in memory) or piece by piece (streamed: every piece is flushed, so
 * a streamed render or a slow upstream reaches the browser as it comes). */
#include "rs_compress.h"

#include "rs_log.h"

#include <brotli/encode.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A streamed body's br window: 512 KB, as nginx's brotli module
 * (brotli_window); a whole body in memory uses one fitted to its size. */
#define RS__BR_STREAM_LGWIN 19

_Static_assert(RS_ENC_MAX <= sizeof(((rs_loop_counters_t *)0)->compressed) / sizeof(uint64_t),
               "rs_loop_counters_t.compressed: one per coding");

struct rs_compress_s {
  char *headers;                 /* the rewritten header block */
  char *body;                    /* a compressed in-memory body */
  rs_encoding_t enc;             /* a streamed body's coding (IDENTITY: none) */
  bool zinit, failed;
  z_stream zs;
  BrotliEncoderState *br;
  rs_buf_t out;                  /* a streamed piece's output */
};

/* ------------------------------------------------------------------ headers */

typedef struct {
  rs_str_t ctype;                /* Content-Type value, empty when none */
  bool coded;                    /* Content-Encoding present */
  bool range;                    /* Content-Range present */
  bool no_transform;             /* Cache-Control: no-transform */
  bool vary_ae;                  /* Vary already names Accept-Encoding (or "*") */
} rs__scan_t;

/* Does the comma list v hold token tok (lower-case)? */
static bool rs__list_has(const char *v, size_t n, const char *tok) {
  size_t tl = strlen(tok), i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t s = i;
    while (i < n && v[i] != ',' && v[i] != ';' && v[i] != '=') i++;
    size_t e = i;
    while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
    if (rs_str_ieq(v + s, e - s, tok, tl)) return true;
    while (i < n && v[i] != ',') i++;
  }
  return false;
}

/* Each "Name: value" line of block h[0..n) ("\r\n" or "\n" ends), name and
 * value trimmed; fn returns false to stop. */
typedef bool (*rs__line_fn)(void *ud, const char *name, size_t nl, const char *value, size_t vl,
                            const char *line, size_t ll);

static bool rs__lines(const char *h, size_t n, rs__line_fn fn, void *ud) {
  size_t i = 0;
  while (i < n) {
    const char *line = h + i;
    const char *nl = memchr(line, '\n', n - i);
    size_t ll = nl ? (size_t)(nl - line) + 1 : n - i;
    i += ll;
    size_t end = ll;
    while (end > 0 && (line[end - 1] == '\n' || line[end - 1] == '\r')) end--;
    const char *colon = memchr(line, ':', end);
    if (colon == NULL) continue;
    size_t namel = (size_t)(colon - line);
    const char *v = colon + 1, *ve = line + end;
    while (v < ve && (*v == ' ' || *v == '\t')) v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
    if (!fn(ud, line, namel, v, (size_t)(ve - v), line, ll)) return false;
  }
  return true;
}

static bool rs__scan_line(void *ud, const char *name, size_t nl, const char *v, size_t vl,
                          const char *line, size_t ll) {
  (void)line, (void)ll;
  rs__scan_t *s = ud;
  if (rs_str_ieq(name, nl, "content-type", 12)) {
    s->ctype.p = v;
    s->ctype.len = vl;
  } else if (rs_str_ieq(name, nl, "content-encoding", 16)) {
    s->coded = s->coded || !(vl == 0 || rs_str_ieq(v, vl, "identity", 8));
  } else if (rs_str_ieq(name, nl, "content-range", 13)) {
    s->range = true;
  } else if (rs_str_ieq(name, nl, "cache-control", 13)) {
    s->no_transform = s->no_transform || rs__list_has(v, vl, "no-transform");
  } else if (rs_str_ieq(name, nl, "vary", 4)) {
    s->vary_ae = s->vary_ae || rs__list_has(v, vl, "accept-encoding") || rs__list_has(v, vl, "*");
  }
  return true;
}

/* Is an answer with these headers, status and length (-1: unknown) one the
 * filter compresses for some client? */
static bool rs__eligible(const rs_req_t *r, int status, const rs__scan_t *s, int64_t len) {
  const rs_compress_opts_t *o = r->compress;
  if (o == NULL || !o->on || (o->gzip_level <= 0 && o->brotli_quality < 0)) return false;
  if (status < 200 || status == 204 || status == 206 || status == 304) return false;
  if (s->coded || s->range || s->no_transform || s->ctype.len == 0) return false;
  if (len >= 0 && (uint64_t)len < o->min_length) return false;
  if (rs_req_header(r, "range") != NULL) return false;
  return rs_compress_type_ok(o, s->ctype.p, s->ctype.len);
}

/* The coding the client prefers among those configured: the higher q, br
 * at equal q; IDENTITY when it takes neither. */
static rs_encoding_t rs__choose(const rs_req_t *r) {
  const rs_str_t *ae = rs_req_header(r, "accept-encoding");
  if (ae == NULL || ae->len == 0) return RS_ENC_IDENTITY;
  int q[RS_ENC_MAX];
  rs_coding_accept_q(ae->p, ae->len, q);
  int qbr = r->compress->brotli_quality >= 0 ? q[RS_ENC_BR] : 0;
  int qgz = r->compress->gzip_level > 0 ? q[RS_ENC_GZIP] : 0;
  if (qbr <= 0 && qgz <= 0) return RS_ENC_IDENTITY;
  return qbr >= qgz ? RS_ENC_BR : RS_ENC_GZIP;
}

/* The filter's state, from the request's pool (freed with it; what it
 * points to is released by rs_compress_req_free). */
static struct rs_compress_s *rs__state(rs_req_t *r) {
  if (r->_z == NULL) {
    r->_z = rs_req_alloc(r, sizeof(*r->_z));
    memset(r->_z, 0, sizeof(*r->_z));
  }
  return r->_z;
}

typedef struct {
  rs_buf_t *b;
  bool weaken;                   /* a strong ETag becomes weak */
} rs__copy_t;

static bool rs__copy_line(void *ud, const char *name, size_t nl, const char *v, size_t vl,
                          const char *line, size_t ll) {
  rs__copy_t *c = ud;
  if (c->weaken && rs_str_ieq(name, nl, "accept-ranges", 13)) return true;   /* not of the coded bytes */
  if (c->weaken && rs_str_ieq(name, nl, "etag", 4) && vl > 0 && v[0] == '"') {
    rs_buf_append(c->b, line, nl);
    rs_buf_append(c->b, ": W/", 4);
    rs_buf_append(c->b, v, vl);
    rs_buf_append(c->b, "\r\n", 2);
    return true;
  }
  rs_buf_append(c->b, line, ll);
  if (ll == 0 || line[ll - 1] != '\n') rs_buf_append(c->b, "\r\n", 2);
  return true;
}

/* The header block the answer leaves with: a and b (either may be empty)
 * with a strong ETag made weak when enc codes the body, then
 * Content-Encoding and Vary as needed. Owned by r's filter state. */
static void rs__rewrite(rs_req_t *r, const char *a, size_t al, const char *b, size_t bl,
                        rs_encoding_t enc, bool vary, const char **out, size_t *out_len) {
  rs_buf_t nb = { 0 };
  rs_buf_reserve(&nb, al + bl + 64);
  rs__copy_t c = { &nb, enc != RS_ENC_IDENTITY };
  if (al) rs__lines(a, al, rs__copy_line, &c);
  if (bl) rs__lines(b, bl, rs__copy_line, &c);
  if (enc != RS_ENC_IDENTITY) rs_buf_printf(&nb, "Content-Encoding: %s\r\n", rs_encoding_name(enc));
  if (vary) rs_buf_append(&nb, "Vary: Accept-Encoding\r\n", 23);
  struct rs_compress_s *z = rs__state(r);
  free(z->headers);
  z->headers = nb.p;
  *out = nb.p ? nb.p : "";
  *out_len = nb.len;
}

/* ------------------------------------------------------------------ whole bodies */


/* in[0..len) coded as enc into a malloc'd buffer smaller than len, or NULL
 * (no gain, or out of memory). */
static char *rs__encode(rs_encoding_t enc, int level, const char *in, size_t len, size_t *out_len) {
  if (len < 16) return NULL;
  char *out = malloc(len);
  if (out == NULL) return NULL;
  if (enc == RS_ENC_GZIP) {
    z_stream *zs = rs_coding_deflater(RS_MIN(RS_MAX(level, 1), 9));
    if (zs == NULL) goto fail;
    /* Output room is the input's size, less one: a body that does not shrink
     * is not worth coding, and deflate says so with Z_OK/Z_BUF_ERROR. */
    zs->next_in = (Bytef *)in;
    zs->avail_in = (uInt)len;
    zs->next_out = (Bytef *)out;
    zs->avail_out = (uInt)(len - 1);
    if (deflate(zs, Z_FINISH) != Z_STREAM_END) goto fail;
    *out_len = zs->total_out;
    return out;
  }
  size_t n = len - 1;
  if (!BrotliEncoderCompress(RS_MIN(RS_MAX(level, 0), BROTLI_MAX_QUALITY), BROTLI_DEFAULT_WINDOW,
                             BROTLI_MODE_GENERIC, len, (const uint8_t *)in, &n, (uint8_t *)out))
    goto fail;
  *out_len = n;
  return out;
fail:
  free(out);
  return NULL;
}

bool rs_compress_wanted(const rs_req_t *req, const char *ctype, size_t ctype_len, int64_t clen) {
  rs__scan_t s = { .ctype = { ctype, ctype_len } };
  return req->compress != NULL && rs__eligible(req, 200, &s, clen) && rs__choose(req) != RS_ENC_IDENTITY;
}

void rs_compress_respond(rs_req_t *r, rs_resp_t *resp) {
  if (resp->file_len > 0) return;                /* sendfile: not read here */
  rs__scan_t s = { 0 };
  if (resp->headers_len) rs__lines(resp->headers, resp->headers_len, rs__scan_line, &s);
  if (resp->extra_len) rs__lines(resp->extra, resp->extra_len, rs__scan_line, &s);
  if (r->add_headers.len) rs__lines(r->add_headers.p, r->add_headers.len, rs__scan_line, &s);
  if (!rs__eligible(r, resp->status, &s, (int64_t)resp->body_len)) return;
  rs_encoding_t enc = rs__choose(r);
  char *body = NULL;
  size_t blen = 0;
  if (enc != RS_ENC_IDENTITY) {
    int level = enc == RS_ENC_GZIP ? r->compress->gzip_level : r->compress->brotli_quality;
    body = rs__encode(enc, level, resp->body, resp->body_len, &blen);
    if (body == NULL) enc = RS_ENC_IDENTITY;     /* no gain: as it is, still varying */
  }
  if (enc == RS_ENC_IDENTITY && s.vary_ae) return;
  rs__rewrite(r, resp->headers, resp->headers_len, resp->extra, resp->extra_len, enc, !s.vary_ae,
              &resp->headers, &resp->headers_len);
  resp->extra = NULL;
  resp->extra_len = 0;
  if (body != NULL) {
    r->_z->body = body;
    if (r->loop != NULL) {
      RS_COUNTER_ADD(r->loop->counters.compressed[enc], 1);
      RS_COUNTER_ADD(r->loop->counters.compress_in, resp->body_len);
      RS_COUNTER_ADD(r->loop->counters.compress_out, blen);
    }
    resp->body = body;
    resp->body_len = blen;
  }
}

/* ------------------------------------------------------------------ streams */

bool rs_compress_stream_start(rs_req_t *r, int status, const char **headers, size_t *headers_len,
                              int64_t *content_length) {
  rs__scan_t s = { 0 };
  rs__lines(*headers, *headers_len, rs__scan_line, &s);
  if (r->add_headers.len) rs__lines(r->add_headers.p, r->add_headers.len, rs__scan_line, &s);
  if (!rs__eligible(r, status, &s, *content_length)) return false;
  rs_encoding_t enc = rs__choose(r);
  if (enc == RS_ENC_IDENTITY && s.vary_ae) return false;
  struct rs_compress_s *z = rs__state(r);
  if (enc == RS_ENC_GZIP) {
    int level = RS_MIN(RS_MAX(r->compress->gzip_level, 1), 9);
    if (deflateInit2(&z->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK) z->zinit = true;
    else enc = RS_ENC_IDENTITY;
  } else if (enc == RS_ENC_BR) {
    z->br = BrotliEncoderCreateInstance(NULL, NULL, NULL);
    if (z->br != NULL) {
      BrotliEncoderSetParameter(z->br, BROTLI_PARAM_QUALITY,
                                (uint32_t)RS_MIN(RS_MAX(r->compress->brotli_quality, 0), BROTLI_MAX_QUALITY));
      BrotliEncoderSetParameter(z->br, BROTLI_PARAM_LGWIN, RS__BR_STREAM_LGWIN);
      if (*content_length > 0)
        BrotliEncoderSetParameter(z->br, BROTLI_PARAM_SIZE_HINT, (uint32_t)RS_MIN(*content_length, 1 << 30));
    } else {
      enc = RS_ENC_IDENTITY;
    }
  }
  z->enc = enc;
  if (enc != RS_ENC_IDENTITY && r->loop != NULL) RS_COUNTER_ADD(r->loop->counters.compressed[enc], 1);
  rs__rewrite(r, *headers, *headers_len, NULL, 0, enc, !s.vary_ae, headers, headers_len);
  if (enc != RS_ENC_IDENTITY) *content_length = -1;
  return enc != RS_ENC_IDENTITY;
}

int rs_compress_stream(rs_req_t *r, const char *p, size_t n, bool finish, const char **out,
                       size_t *out_len) {
  struct rs_compress_s *z = r->_z;
  *out = p;                      /* not coded (Vary only): as it is */
  *out_len = n;
  if (z == NULL || z->enc == RS_ENC_IDENTITY) return 0;
  *out = NULL;
  *out_len = 0;
  if (z->failed) return -EIO;
  z->out.len = 0;
  if (z->enc == RS_ENC_GZIP) {
    z->zs.next_in = (Bytef *)p;
    z->zs.avail_in = (uInt)n;
    for (;;) {
      rs_buf_reserve(&z->out, n / 2 + 4096);
      z->zs.next_out = (Bytef *)z->out.p + z->out.len;
      uInt room = (uInt)(z->out.cap - z->out.len);
      z->zs.avail_out = room;
      int rc = deflate(&z->zs, finish ? Z_FINISH : Z_SYNC_FLUSH);
      z->out.len += room - z->zs.avail_out;
      if (rc == Z_STREAM_END) break;
      if (rc != Z_OK && rc != Z_BUF_ERROR) goto fail;
      if (!finish && z->zs.avail_in == 0 && z->zs.avail_out > 0) break;   /* flushed */
    }
  } else {
    const uint8_t *in = (const uint8_t *)p;
    size_t avail_in = n;
    BrotliEncoderOperation op = finish ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_FLUSH;
    for (;;) {
      rs_buf_reserve(&z->out, n / 2 + 4096);
      uint8_t *o = (uint8_t *)z->out.p + z->out.len;
      size_t room = z->out.cap - z->out.len, avail_out = room;
      if (!BrotliEncoderCompressStream(z->br, op, &avail_in, &in, &avail_out, &o, NULL)) goto fail;
      z->out.len += room - avail_out;
      if (avail_in == 0 && !BrotliEncoderHasMoreOutput(z->br) && (!finish || BrotliEncoderIsFinished(z->br)))
        break;
    }
  }
  *out = z->out.p;
  *out_len = z->out.len;
  if (r->loop != NULL) {
    RS_COUNTER_ADD(r->loop->counters.compress_in, n);
    RS_COUNTER_ADD(r->loop->counters.compress_out, z->out.len);
  }
  return 0;
fail:
  z->failed = true;
  rs_log_error("compressing the answer to req %llx failed", (unsigned long long)r->id);
  return -EIO;
}

void rs_compress_req_free(rs_req_t *r) {
  struct rs_compress_s *z = r->_z;
  if (z == NULL) return;
  r->_z = NULL;
  if (z->zinit) deflateEnd(&z->zs);
  if (z->br != NULL) BrotliEncoderDestroyInstance(z->br);
  rs_buf_free(&z->out);
  free(z->headers);
  free(z->body);
}
