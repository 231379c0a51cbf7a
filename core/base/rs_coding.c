/* core/base/rs_coding.c — see rs_coding.h. */
#include "rs_coding.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

const char *rs_encoding_name(rs_encoding_t enc) {
  switch (enc) {
  case RS_ENC_GZIP: return "gzip";
  case RS_ENC_BR: return "br";
  default: return "identity";
  }
}

/* ------------------------------------------------------------------ Accept-Encoding */

static bool rs__ows(char c) { return c == ' ' || c == '\t'; }

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), as an
 * integer 0..1000; -1 when it does not parse. */
static int rs__qvalue(const char *p, size_t len) {
  if (len == 0 || (p[0] != '0' && p[0] != '1')) return -1;
  int q = (p[0] - '0') * 1000;
  if (len == 1) return q;
  if (p[1] != '.' || len > 5) return -1;
  int scale = 100;
  for (size_t i = 2; i < len; i++, scale /= 10) {
    if (p[i] < '0' || p[i] > '9') return -1;
    q += (p[i] - '0') * scale;
  }
  return q > 1000 ? -1 : q;
}

enum { RS__CODING_STAR = RS_ENC_MAX, RS__NCODING };

/* Which coding a token names, or -1 for one we do not produce. */
static int rs__coding(const char *p, size_t len) {
  if (rs_str_ieq(p, len, "br", 2)) return RS_ENC_BR;
  if (rs_str_ieq(p, len, "gzip", 4) || rs_str_ieq(p, len, "x-gzip", 6)) return RS_ENC_GZIP;
  if (rs_str_ieq(p, len, "identity", 8)) return RS_ENC_IDENTITY;
  if (len == 1 && p[0] == '*') return RS__CODING_STAR;
  return -1;
}

/* Parse one element "coding *( OWS ; OWS param )" (OWS already trimmed)
 * into q[coding], keeping the highest q of repeats. */
static void rs__element(const char *p, size_t len, int q[RS__NCODING]) {
  const char *semi = memchr(p, ';', len);
  size_t tlen = semi ? (size_t)(semi - p) : len;
  while (tlen > 0 && rs__ows(p[tlen - 1])) tlen--;
  int coding = rs__coding(p, tlen);
  if (coding < 0) return;
  int qv = 1000;
  while (semi != NULL) {
    const char *par = semi + 1, *end = p + len;
    semi = memchr(par, ';', (size_t)(end - par));
    const char *pend = semi ? semi : end;
    while (par < pend && rs__ows(*par)) par++;
    while (pend > par && rs__ows(pend[-1])) pend--;
    size_t plen = (size_t)(pend - par);
    if (plen >= 2 && (par[0] == 'q' || par[0] == 'Q') && par[1] == '=') {
      qv = rs__qvalue(par + 2, plen - 2);
      if (qv < 0) return;                      /* malformed: ignore the element */
    }
  }
  if (qv > q[coding]) q[coding] = qv;
}

void rs_coding_accept_q(const char *accept, size_t len, int eff[RS_ENC_MAX]) {
  int q[RS__NCODING] = { -1, -1, -1, -1 };     /* -1: not listed */
  const char *p = accept, *end = accept ? accept + len : accept;
  while (p < end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *eend = comma ? comma : end;
    const char *s = p;
    while (s < eend && rs__ows(*s)) s++;
    const char *t = eend;
    while (t > s && rs__ows(t[-1])) t--;
    if (t > s) rs__element(s, (size_t)(t - s), q);
    p = comma ? comma + 1 : end;
  }

  /* Effective q per coding: listed, else "*", else the default
   * (identity acceptable, other codings not). */
  for (int i = 0; i < RS_ENC_MAX; i++) {
    if (q[i] >= 0) eff[i] = q[i];
    else if (q[RS__CODING_STAR] >= 0) eff[i] = q[RS__CODING_STAR];
    else eff[i] = i == RS_ENC_IDENTITY ? 1000 : 0;
  }
}

/* ------------------------------------------------------------------ options */

void rs_compress_opts_default(rs_compress_opts_t *o) {
  /* nginx's usual gzip_types, plus the ones a site's build emits. */
  static const char *const types[] = {
    "text/css", "text/plain", "text/javascript", "application/javascript", "application/json",
    "application/manifest+json", "application/xml", "text/xml", "image/svg+xml",
  };
  memset(o, 0, sizeof(*o));
  o->on = true;
  o->gzip_level = 5;
  o->brotli_quality = 4;
  o->min_length = 256;
  for (size_t i = 0; i < RS_ARRAY_SIZE(types); i++)
    snprintf(o->types[o->ntypes++], RS_COMPRESS_TYPE_LEN, "%s", types[i]);
}

bool rs_compress_type_ok(const rs_compress_opts_t *o, const char *t, size_t len) {
  size_t n = 0;                  /* the media type, without parameters or OWS */
  while (n < len && t[n] != ';' && t[n] != ' ' && t[n] != '\t') n++;
  if (n == 0) return false;
  if (rs_str_ieq(t, n, "text/html", 9)) return true;
  const char *slash = memchr(t, '/', n);
  for (size_t i = 0; i < o->ntypes; i++) {
    const char *x = o->types[i];
    size_t xl = strlen(x);
    if (xl == 1 && x[0] == '*') return true;
    if (xl >= 2 && x[xl - 1] == '*' && x[xl - 2] == '/') {     /* a family: "text/" then "*" */
      if (slash != NULL && (size_t)(slash - t) + 1 == xl - 1 && rs_str_ieq(t, xl - 1, x, xl - 1)) return true;
      continue;
    }
    if (rs_str_ieq(t, n, x, xl)) return true;
  }
  return false;
}

typedef struct {
  z_stream zs;
  int level;
} rs__deflater_t;

static pthread_key_t rs__zkey;
static pthread_once_t rs__zonce = PTHREAD_ONCE_INIT;

static void rs__deflater_free(void *p) {
  rs__deflater_t *d = p;
  deflateEnd(&d->zs);
  free(d);
}

static void rs__zkey_init(void) {
  if (pthread_key_create(&rs__zkey, rs__deflater_free) != 0) abort();
}

struct z_stream_s *rs_coding_deflater(int level) {
  pthread_once(&rs__zonce, rs__zkey_init);
  rs__deflater_t *d = pthread_getspecific(rs__zkey);
  if (d != NULL && d->level == level && deflateReset(&d->zs) == Z_OK) return &d->zs;
  if (d != NULL) {
    pthread_setspecific(rs__zkey, NULL);
    rs__deflater_free(d);
  }
  d = calloc(1, sizeof(*d));
  if (d == NULL) return NULL;
  if (deflateInit2(&d->zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    free(d);
    return NULL;
  }
  d->level = level;
  if (pthread_setspecific(rs__zkey, d) != 0) {
    rs__deflater_free(d);
    return NULL;
  }
  return &d->zs;
}
