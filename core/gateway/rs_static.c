/* core/gateway/rs_static.c — see rs_static.h.
 *
 * A request goes: path → segments (decoded, checked) → openat walk from the
 * root → fstat → conditionals (304) → range (206/416) → body (read, or the
 * fd for sendfile). Every header is formatted into `extra`, which
 * rs_req_respond copies at once; only the body (a malloc'd buffer, or the
 * fd) lives until release. */
#define _GNU_SOURCE              /* O_PATH */
#include "rs_static.h"

#include "rs_compress.h"
#include "rs_errpage.h"
#include "rs_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RS__PATH_MAX 4096        /* decoded path bytes; longer → 404 */

static const char rs__html[] = "Content-Type: text/html\r\n";

/* ------------------------------------------------------------------ path */

static int rs__hex(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The file path in p[0..n) (the request path after the route's prefix):
 * percent-decoded first, then split on '/' (so "%2F" separates too),
 * empty and "." segments dropped. The segments go into out, each followed by
 * a NUL, their count into *nseg; *dir says the path names a folder (it ends
 * in '/' or "." or is empty). Returns 0; 400 for what must never reach the
 * file system: a ".." segment (however encoded), a NUL or other control
 * byte, a backslash, a broken %-escape; 404 when it does not fit cap.
 * "%252e" decodes once, to the literal name "%2e". */
static int rs__static_path(const char *p, size_t n, char *out, size_t cap, size_t *nseg,
                           bool *dir) {
  size_t o = 0, start = 0, i = 0;
  *nseg = 0;
  *dir = true;
  for (;;) {
    int c;
    if (i == n) {
      c = -1;
    } else if (p[i] == '%') {
      if (n - i < 3) return 400;
      int h = rs__hex((unsigned char)p[i + 1]), l = rs__hex((unsigned char)p[i + 2]);
      if (h < 0 || l < 0) return 400;
      c = h * 16 + l;
      i += 3;
    } else {
      c = (unsigned char)p[i++];
    }
    if (c == -1 || c == '/') {
      size_t len = o - start;
      bool dot = len == 1 && out[start] == '.';
      if (len == 2 && out[start] == '.' && out[start + 1] == '.') return 400;
      if (dot) {
        o = start;
      } else if (len > 0) {
        if (o == cap) return 404;
        out[o++] = '\0';
        start = o;
        (*nseg)++;
      }
      if (c == -1) {
        *dir = len == 0 || dot;
        return 0;
      }
      continue;
    }
    if (c < 0x20 || c == 0x7f || c == '\\') return 400;
    if (o == cap) return 404;
    out[o++] = (char)c;
  }
}

/* Open the nseg segments of segs under root, then index in the folder they
 * name when index is not NULL. No symlink is followed below the root
 * (O_NOFOLLOW on every component; the root itself may be one). Returns an fd
 * (O_RDONLY, O_NONBLOCK so a FIFO cannot block the loop) or -errno. */
static int rs__static_open(const char *root, const char *segs, size_t nseg, const char *index) {
  if (nseg == 0 && index == NULL) return -ENOENT;   /* the root names no file */
  int dfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return -errno;
  const char *name = segs;
  size_t ndirs = index != NULL ? nseg : nseg - 1;
  for (size_t i = 0; i < ndirs; i++) {
    /* O_PATH: a folder needs search permission only, as for open(2). */
    int fd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    close(dfd);
    if (fd < 0) return -e;
    dfd = fd;
    name += strlen(name) + 1;
  }
  int fd = openat(dfd, index != NULL ? index : name,
                  O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  int e = errno;
  close(dfd);
  return fd < 0 ? -e : fd;
}

/* ------------------------------------------------------------------ headers */

static const struct {
  const char *ext, *type;
} rs__types[] = {
  { "html", "text/html; charset=utf-8" },
  { "htm", "text/html; charset=utf-8" },
  { "css", "text/css; charset=utf-8" },
  { "js", "text/javascript; charset=utf-8" },
  { "mjs", "text/javascript; charset=utf-8" },
  { "json", "application/json" },
  { "map", "application/json" },
  { "svg", "image/svg+xml" },
  { "png", "image/png" },
  { "jpg", "image/jpeg" },
  { "jpeg", "image/jpeg" },
  { "gif", "image/gif" },
  { "webp", "image/webp" },
  { "avif", "image/avif" },
  { "ico", "image/x-icon" },
  { "woff", "font/woff" },
  { "woff2", "font/woff2" },
  { "txt", "text/plain; charset=utf-8" },
  { "xml", "application/xml" },
  { "wasm", "application/wasm" },
};

/* The Content-Type for a file name, by its extension (any case). */
static const char *rs__static_type(const char *name) {
  const char *dot = strrchr(name, '.');
  if (dot != NULL && dot != name) {
    size_t n = strlen(dot + 1);
    for (size_t i = 0; i < RS_ARRAY_SIZE(rs__types); i++)
      if (rs_str_ieq(dot + 1, n, rs__types[i].ext, strlen(rs__types[i].ext)))
        return rs__types[i].type;
  }
  return "application/octet-stream";
}

static int rs__month(const char *m) {
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  for (int i = 0; i < 12; i++)
    if (strncasecmp(m, months + 3 * i, 3) == 0 && m[3] == '\0') return i;
  return -1;
}

/* An HTTP-date (RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850
 * and asctime forms a recipient must accept). Returns 0 with *out. */
static int rs__static_http_time(const char *v, size_t n, time_t *out) {
  char buf[64], mon[4], tz[4];
  int d, y, hh, mm, ss;
  if (n >= sizeof(buf)) return -1;
  memcpy(buf, v, n);
  buf[n] = '\0';
  const char *comma = strchr(buf, ',');
  if (comma != NULL) {
    if (sscanf(comma + 1, " %2d %3s %4d %2d:%2d:%2d %3s", &d, mon, &y, &hh, &mm, &ss, tz) == 7) {
      /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
    } else if (sscanf(comma + 1, " %2d-%3s-%2d %2d:%2d:%2d %3s", &d, mon, &y, &hh, &mm, &ss, tz) == 7) {
      y += y < 70 ? 2000 : 1900;   /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
    } else {
      return -1;
    }
    if (strcmp(tz, "GMT") != 0) return -1;
  } else if (sscanf(buf, "%*3s %3s %2d %2d:%2d:%2d %4d", mon, &d, &hh, &mm, &ss, &y) != 6) {
    return -1;                   /* asctime: Sun Nov  6 08:49:37 1994 */
  }
  int m = rs__month(mon);
  if (m < 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 || y < 1970 || hh < 0 || mm < 0 || ss < 0)
    return -1;
  struct tm tm = { .tm_year = y - 1900, .tm_mon = m, .tm_mday = d,
                   .tm_hour = hh, .tm_min = mm, .tm_sec = ss };
  *out = timegm(&tm);
  return 0;
}

static uint64_t rs__digits(const char *s, size_t n, size_t *i, bool *any) {
  uint64_t v = 0;
  *any = false;
  while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
    unsigned d = (unsigned)(s[*i] - '0');
    v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;   /* saturate */
    (*i)++;
    *any = true;
  }
  return v;
}

/* One byte range of a file of size bytes from a Range value (RFC 9110
 * §14.1.2): "bytes=a-b", "bytes=a-", "bytes=-n". Returns 1 with the first
 * and last byte (inclusive), -1 when unsatisfiable (416), 0 to ignore the
 * header and send the whole file: another unit, bad syntax (including a
 * last byte before the first), or several ranges (no multipart answers). */
static int rs__static_range(const char *v, size_t n, uint64_t size, uint64_t *first,
                            uint64_t *last) {
  size_t i = 0;
  while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
  if (n - i < 6 || !rs_str_ieq(v + i, 5, "bytes", 5) || v[i + 5] != '=') return 0;
  i += 6;
  int count = 0;
  bool suffix = false, has_b = false;
  uint64_t a = 0, b = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
    if (i < n && v[i] == ',') {  /* empty list elements are allowed */
      i++;
      continue;
    }
    if (i == n) break;
    if (++count > 1) return 0;
    bool any;
    if (v[i] == '-') {
      i++;
      suffix = true;
      a = rs__digits(v, n, &i, &any);
      if (!any) return 0;
    } else {
      a = rs__digits(v, n, &i, &any);
      if (!any || i == n || v[i] != '-') return 0;
      i++;
      b = rs__digits(v, n, &i, &has_b);
      if (has_b && b < a) return 0;
    }
    while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
    if (i < n && v[i] != ',') return 0;
  }
  if (count == 0) return 0;
  if (suffix) {
    if (a == 0 || size == 0) return -1;
    *first = a >= size ? 0 : size - a;
    *last = size - 1;
    return 1;
  }
  if (a >= size) return -1;
  *first = a;
  *last = has_b && b < size ? b : size - 1;
  return 1;
}

/* ------------------------------------------------------------------ answers */

/* 404, 403 or 500 for an errno from opening or reading. */
static void rs__static_fail(rs_req_t *req, const rs_route_t *route, int err) {
  switch (err) {
    case ENOENT: case ENOTDIR: case ELOOP: case ENAMETOOLONG: case ENXIO: case ENODEV:
      rs_errpage_answer(req, 404, NULL);
      return;
    case EACCES: case EPERM:
      rs_log_info("static %s: %.*s: %s", route->where, (int)RS_MIN(req->path.len, 1024), req->path.p,
                  uv_strerror(-err));
      rs_errpage_answer(req, 403, NULL);
      return;
    default:
      rs_log_error("static %s: %.*s under %s: %s", route->where, (int)RS_MIN(req->path.len, 1024),
                   req->path.p, route->files.root, uv_strerror(-err));
      rs_errpage_answer(req, 500, NULL);
  }
}

/* A folder asked for without its '/': 301 to the path with it, repeated
 * slashes folded (a leading "//host" would read as another site). */
static void rs__static_redirect(rs_req_t *req) {
  static const char body[] =
      "<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n"
      "<center><h1>301 Moved Permanently</h1></center>\r\n<hr><center>rustyssr</center>\r\n"
      "</body>\r\n</html>\r\n";
  size_t cap = req->path.len + req->query.len + 32;
  char *loc = malloc(cap);
  if (loc == NULL) {
    rs_errpage_answer(req, 500, NULL);
    return;
  }
  size_t n = 0;
  memcpy(loc, "Location: ", 10), n = 10;
  for (size_t i = 0; i < req->path.len; i++)
    if (req->path.p[i] != '/' || n == 10 || loc[n - 1] != '/') loc[n++] = req->path.p[i];
  loc[n++] = '/';
  if (req->query.len > 0) {
    loc[n++] = '?';
    memcpy(loc + n, req->query.p, req->query.len), n += req->query.len;
  }
  memcpy(loc + n, "\r\n", 2), n += 2;
  rs_resp_t resp = { .status = 301, .headers = rs__html, .headers_len = sizeof(rs__html) - 1,
                     .extra = loc, .extra_len = n, .body = body, .body_len = sizeof(body) - 1 };
  rs_req_respond(req, &resp);    /* copies extra */
  free(loc);
}

static void rs__release_close(void *ud) {
  close((int)(intptr_t)ud);
}

/* Append a formatted header line to x, never past its end (what goes in is
 * a few short lines, well under its size). */
#define RS__X(...)                                                            \
  do {                                                                        \
    int n_ = snprintf(x + xl, sizeof(x) - xl, __VA_ARGS__);                   \
    xl = n_ > 0 ? RS_MIN(xl + (size_t)n_, sizeof(x) - 1) : xl;                \
  } while (0)

/* fd is open on a regular file with st; answer from it and close it. name
 * gives the type; enc is the coding of the file's bytes (a precompressed
 * sibling of name), identity for name itself. */
static void rs__static_answer(rs_req_t *req, const rs_route_t *route, int fd, const struct stat *st,
                              const char *name, rs_encoding_t enc) {
  char x[512];
  size_t xl = 0;
  uint64_t size = (uint64_t)st->st_size;
  time_t mtime = st->st_mtime;

  char date[RS_HTTP_DATE_LINE_MAX];
  size_t dl = rs_http_date_line(date, mtime);      /* "Date: ...\r\n" */
  char etag[48];
  int el = snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)mtime,
                    (unsigned long long)size);

  /* Validators and caching go on 200, 206 and 304 alike. */
  RS__X("Last-Modified: %.*s", (int)(dl - 6), date + 6);
  if (route->files.etag) RS__X("ETag: %s\r\n", etag);
  if (route->files.max_age >= 0) RS__X("Cache-Control: public, max-age=%lld\r\n",
                                       (long long)route->files.max_age);
  if (enc != RS_ENC_IDENTITY) RS__X("Vary: Accept-Encoding\r\n");

  /* RFC 9110 §13.2.2: If-None-Match first; If-Modified-Since only without it. */
  const rs_str_t *inm = rs_req_header(req, "if-none-match");
  bool not_modified = false;
  if (inm != NULL) {
    not_modified = rs_http_etag_match(inm, route->files.etag ? etag : NULL, (size_t)el);
  } else {
    const rs_str_t *ims = rs_req_header(req, "if-modified-since");
    time_t t;
    if (ims != NULL && rs__static_http_time(ims->p, ims->len, &t) == 0 && mtime <= t)
      not_modified = true;
  }
  if (not_modified) {
    close(fd);
    rs_resp_t resp = { .status = 304, .extra = x, .extra_len = xl };
    rs_req_respond(req, &resp);
    return;
  }

  const char *ctype = rs__static_type(name);
  RS__X("Content-Type: %s\r\n", ctype);
  if (enc != RS_ENC_IDENTITY) RS__X("Content-Encoding: %s\r\n", rs_encoding_name(enc));
  else RS__X("Accept-Ranges: bytes\r\n");
  int status = 200;
  uint64_t first = 0, last = size ? size - 1 : 0, len = size;
  const rs_str_t *range = rs_req_header(req, "range");
  if (range != NULL) {
    /* If-Range: the range only if the client's copy is this one, by a
     * strong tag or the exact Last-Modified; else the whole file. */
    const rs_str_t *ir = rs_req_header(req, "if-range");
    bool use = true;
    if (ir != NULL) {
      time_t t;
      if (ir->len > 0 && ir->p[0] == '"') use = ir->len == (size_t)el && memcmp(ir->p, etag, (size_t)el) == 0;
      else use = rs__static_http_time(ir->p, ir->len, &t) == 0 && t == mtime;
    }
    int rc = use ? rs__static_range(range->p, range->len, size, &first, &last) : 0;
    if (rc < 0) {
      close(fd);
      char cr[64];
      snprintf(cr, sizeof(cr), "Content-Range: bytes */%llu\r\n", (unsigned long long)size);
      rs_req_respond_error(req, 416, cr);
      return;
    }
    if (rc > 0) {
      status = 206;
      len = last - first + 1;
      RS__X("Content-Range: bytes %llu-%llu/%llu\r\n", (unsigned long long)first,
            (unsigned long long)last, (unsigned long long)size);
    }
  }

  rs_resp_t resp = { .status = status, .extra = x, .extra_len = xl };
  /* A body the compression filter codes is read whole, also for HEAD (its
   * length is the coded one), up to RS_STATIC_COMPRESS_MAX. */
  bool coded = status == 200 && enc == RS_ENC_IDENTITY && len <= RS_STATIC_COMPRESS_MAX &&
               rs_compress_wanted(req, ctype, strlen(ctype), (int64_t)len);
  if (req->head && !coded) {     /* the length only */
    close(fd);
    resp.file_fd = -1;
    resp.file_len = (size_t)len;
    rs_req_respond(req, &resp);
    return;
  }
  if (len > RS_STATIC_READ_MAX && !coded) {
    resp.file_fd = fd;
    resp.file_off = (int64_t)first;
    resp.file_len = (size_t)len;
    resp.release = rs__release_close;
    resp.release_ud = (void *)(intptr_t)fd;
    rs_req_respond(req, &resp);
    return;
  }
  char *buf = NULL;
  if (len > 0) {
    buf = malloc((size_t)len);
    if (buf == NULL) {
      close(fd);
      rs_errpage_answer(req, 500, NULL);
      return;
    }
    size_t got = 0;
    while (got < len) {
      ssize_t r = pread(fd, buf + got, (size_t)len - got, (off_t)(first + got));
      if (r > 0) {
        got += (size_t)r;
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      int err = r < 0 ? errno : EIO;
      rs_log_error("static %s: reading %.*s under %s: %s", route->where,
                   (int)RS_MIN(req->path.len, 1024), req->path.p, route->files.root,
                   r < 0 ? uv_strerror(-err) : "the file shrank while being read");
      free(buf);
      close(fd);
      rs_errpage_answer(req, 500, NULL);
      return;
    }
  }
  close(fd);
  resp.body = buf;
  resp.body_len = (size_t)len;
  resp.release = free;
  resp.release_ud = buf;
  rs_req_respond(req, &resp);
}

/* gzip_static: FILE.br or FILE.gz beside the file, when the client takes
 * that coding (br first at equal q), the sibling is a regular file and not
 * older than the file; never for a Range request. On success *fd and *st
 * are the sibling's (the file's fd closed) and *enc its coding. */
static void rs__static_sibling(rs_req_t *req, const rs_route_t *route, const char *segs, size_t nseg,
                               const char *index, const char *name, int *fd, struct stat *st,
                               rs_encoding_t *enc) {
  const rs_str_t *ae = rs_req_header(req, "accept-encoding");
  if (ae == NULL || ae->len == 0 || rs_req_header(req, "range") != NULL) return;
  int q[RS_ENC_MAX];
  rs_coding_accept_q(ae->p, ae->len, q);
  rs_encoding_t order[2] = { RS_ENC_BR, RS_ENC_GZIP };
  if (q[RS_ENC_GZIP] > q[RS_ENC_BR]) order[0] = RS_ENC_GZIP, order[1] = RS_ENC_BR;
  size_t used = (size_t)(name - segs) + strlen(name) + 1;   /* segs up to the last one */
  if (index != NULL) used = 0;
  char alt[RS__PATH_MAX + 4], alt_index[256];
  for (size_t k = 0; k < 2; k++) {
    if (q[order[k]] <= 0) continue;
    const char *ext = order[k] == RS_ENC_BR ? ".br" : ".gz";
    int sfd;
    if (index != NULL) {
      if (snprintf(alt_index, sizeof(alt_index), "%s%s", index, ext) >= (int)sizeof(alt_index)) return;
      sfd = rs__static_open(route->files.root, segs, nseg, alt_index);
    } else {
      if (used + 3 > sizeof(alt)) return;
      memcpy(alt, segs, used - 1);
      memcpy(alt + used - 1, ext, 4);           /* with its NUL */
      sfd = rs__static_open(route->files.root, alt, nseg, NULL);
    }
    if (sfd < 0) continue;
    struct stat sst;
    if (fstat(sfd, &sst) != 0 || !S_ISREG(sst.st_mode) || sst.st_mtime < st->st_mtime) {
      close(sfd);
      continue;
    }
    close(*fd);
    *fd = sfd;
    *st = sst;
    *enc = order[k];
    return;
  }
}

void rs_static_request(rs_req_t *req, const rs_route_t *route) {
  const char *p = req->path.p;
  size_t n = req->path.len;
  if (route->_is_prefix) {       /* the router matched these bytes */
    p += route->_prefix_len;
    n -= route->_prefix_len;
  }
  char segs[RS__PATH_MAX];
  size_t nseg;
  bool dir;
  int bad = rs__static_path(p, n, segs, sizeof(segs), &nseg, &dir);
  if (bad) {
    rs_errpage_answer(req, bad, NULL);
    return;
  }
  if (dir && route->files.index == NULL) {   /* no listings */
    rs_errpage_answer(req, 404, NULL);
    return;
  }
  const char *index = dir ? route->files.index : NULL;
  int fd = rs__static_open(route->files.root, segs, nseg, index);
  if (fd < 0) {
    rs__static_fail(req, route, -fd);
    return;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    rs__static_fail(req, route, e);
    return;
  }
  if (S_ISDIR(st.st_mode) && !dir) {
    close(fd);
    rs__static_redirect(req);
    return;
  }
  if (!S_ISREG(st.st_mode)) {    /* a folder as index, a FIFO, a device */
    close(fd);
    rs_errpage_answer(req, 404, NULL);
    return;
  }
  const char *name = index;
  if (name == NULL) {            /* the last segment */
    name = segs;
    for (size_t i = 1; i < nseg; i++) name += strlen(name) + 1;
  }
  rs_encoding_t enc = RS_ENC_IDENTITY;
  if (route->files.precompressed) rs__static_sibling(req, route, segs, nseg, index, name, &fd, &st, &enc);
  rs__static_answer(req, route, fd, &st, name, enc);
}
