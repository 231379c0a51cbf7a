/* tests/fuzz/fuzz_request.c — libFuzzer target over the HTTP/1.1 front end:
 * llhttp parsing with our rs__on_* callbacks, header finishing, limits, the
 * refusal path (rs__conn_fail and its error page), pipelining with pause and
 * resume, ordered responses, 100-continue, lingering, EOF and timeouts.
 *
 * The connection, the loop and the input's cut are fuzz_harness.c's (its
 * header says the input layout); this target's own flags:
 *                  32 the handler answers 204/304/HEAD-ish statuses too
 *                  64 the answers go through the compression filter
 * and its split's fixed pieces are (split >> 2) + 1 bytes.
 *
 * Invariant checked beyond the harness's: every answer stream starts with
 * "HTTP/1.1 " (no bytes before or outside an answer), and every request a
 * handler gets has a canonical path and a normalised Host (fz_check_head);
 * with flag 4 out-of-order answers still go out in order. */
#include "fuzz_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fz_answer(rs_req_t *r) {
  int status = 200;
  if ((fz_flags & 32) && r->path.len > 0) {
    static const int st[] = { 200, 204, 304, 404, 500, 100, 999 };
    status = st[r->path.len % (sizeof(st) / sizeof(st[0]))];
  }
  /* Echo the body: the response points into the request until release.
   * With flag 64 it goes through the compression filter (text/html, no
   * minimum length): the fuzzed Accept-Encoding and Range pick its way. */
  if (fz_flags & 64) {
    r->compress = fz_compress_all();
    rs_req_respond_static(r, status, "Content-Type: text/html\r\nETag: \"f\"\r\n", r->body, r->body_len);
    return;
  }
  rs_req_respond_static(r, status, "X-Fuzz: 1\r\n", r->body, r->body_len);
}

/* What rs__req_finish_head promises downstream (issue 10): a canonical path
 * (starts with '/', no empty, "." or ".." segment, nothing that needs an
 * escape), a normalised Host (lower-case, no byte outside host[:port]), and
 * the Host header hooks see equal to it. */
static void fz_check_head(const rs_req_t *r) {
  const char *p = r->path.p;
  size_t n = r->path.len;
  bool ok = n > 0 && (p[0] == '/' || (n == 1 && p[0] == '*'));
  for (size_t i = 0; ok && i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#') ok = false;
    if (c == '/' && i + 1 < n && p[i + 1] == '/') ok = false;
    if (c == '/' && i + 1 < n && p[i + 1] == '.' && (i + 2 == n || p[i + 2] == '/')) ok = false;
    if (c == '/' && i + 2 < n && p[i + 1] == '.' && p[i + 2] == '.' && (i + 3 == n || p[i + 3] == '/'))
      ok = false;
  }
  for (size_t i = 0; ok && i < r->host.len; i++) {
    char c = r->host.p[i];
    if ((c >= 'A' && c <= 'Z') || c == ' ' || c == '/' || c == '@' || c == ',' || c == '\\') ok = false;
  }
  const rs_str_t *h = rs_req_header(r, "host");
  if (ok && h != NULL && (h->len != r->host.len || memcmp(h->p, r->host.p, h->len) != 0)) ok = false;
  if (!ok) {
    fprintf(stderr, "bad head reached the handler: path \"%.*s\" host \"%.*s\"\n", (int)n, p,
            (int)r->host.len, r->host.p);
    abort();
  }
}

static void fz_handler(rs_req_t *r) {
  fz_check_head(r);
  /* Read everything a handler may read, so that ASan checks the pointers
   * rs__req_finish_head built. */
  fz_touch_request(r);
  if (fz_defer(r)) return;
  fz_answer(r);
}

static void fz_check_start(const unsigned char head[9]) {
  if (memcmp(head, "HTTP/1.1 ", 9) != 0) {
    fprintf(stderr, "answer stream starts with %.9s\n", (const char *)head);
    abort();
  }
}

static const fz_target_t fz_http1 = {
  .http2 = false,
  .fixed_shift = 2,
  .handler = fz_handler,
  .answer = fz_answer,
  .check_start = fz_check_start,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fz_run(&fz_http1, data, size);
}
