/* tests/fuzz/fuzz_h2.c — libFuzzer target over the HTTP/2 front end
 * (core/http/rs_h2.c, rs_h2_body.c, rs_h2_out.c): the preface switch,
 * nghttp2's frames with our callbacks, requests made from streams
 * (pseudo-headers, Host, cookies, limits), request bodies buffered (let in
 * by the connection's window, refused) or streamed (with pauses), answers
 * in memory, streamed (with flow control) and deferred, resets, GOAWAY,
 * drain, timers and close with streams in flight.
 *
 * The connection, the loop and the input's cut are fuzz_harness.c's (its
 * header says the input layout); the listener has http2 = true and the
 * client preface goes first (whole, or cut after "PRI" with split bit 2),
 * so the input is the frames that follow it. This target's own flags:
 *                  32 answers are streamed (rs_req_stream_*), in pieces
 *                  64 the answers go through the compression filter
 *                 128 request bodies are streamed to on_body, paused
 *                     and resumed
 * and its split's fixed pieces are (split >> 3) + 1 bytes.
 *
 * Beyond the harness's checks: the answer stream starts with a SETTINGS
 * frame, and every request a handler gets has a path starting with '/' or
 * "*". */
#include "fuzz_harness.h"

#include <stdio.h>
#include <stdlib.h>

static const char fz_body[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static void fz_answer(rs_req_t *r) {
  static const int st[] = { 200, 204, 304, 404, 500, 100, 999 };
  int status = st[r->path.len % (sizeof(st) / sizeof(st[0]))];
  if (fz_flags & 64) r->compress = fz_compress_all();
  if (fz_flags & 32) {
    size_t n = r->query.len;
    rs_req_stream_start_body(r, status, "Content-Type: text/html\r\nConnection: x\r\n", 40,
                             (n & 1) ? -1 : (int64_t)(n * sizeof(fz_body)), fz_body, n & 1 ? 3 : 0);
    for (size_t i = 0; i < n; i++) rs_req_stream_write(r, fz_body, sizeof(fz_body));
    rs_req_stream_end(r, !(n & 2) || (n & 1) == 0);
    return;
  }
  rs_req_respond_static(r, status, "Content-Type: text/html\r\nETag: \"f\"\r\nKeep-Alive: x\r\n",
                        r->body ? r->body : fz_body, r->body ? r->body_len : r->query.len % sizeof(fz_body));
}

static void fz_answer_kept(rs_req_t *r) {
  r->on_abort = NULL;
  fz_answer(r);
}

static void fz_on_body(rs_req_t *r, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) fz_sink += (unsigned char)p[i];
  if (n == 0) {                            /* the end: answer */
    r->on_body = NULL;
    fz_answer(r);
    return;
  }
  rs_req_body_pause(r, (fz_sink & 3) == 0);
}

static void fz_on_abort(rs_req_t *r) {
  if (fz_deferred(r)) return;              /* answered (freed) at the end */
  if (r->on_body != NULL) {                /* streamed body: its answer frees it */
    r->on_body = NULL;
    rs_req_respond_static(r, 500, NULL, NULL, 0);
  }
}

static void fz_on_head(rs_req_t *r) {
  r->stream_body = (fz_flags & 128) != 0;
}

static void fz_handler(rs_req_t *r) {
  if (r->path.len == 0 || (r->path.p[0] != '/' && r->path.p[0] != '*')) {
    fprintf(stderr, "bad path reached the handler: \"%.*s\"\n", (int)r->path.len, r->path.p);
    abort();
  }
  fz_touch_request(r);
  r->on_abort = fz_on_abort;
  if (r->body_streamed) {
    r->on_body = fz_on_body;
    return;
  }
  if (fz_defer(r)) return;
  fz_answer(r);
}

static void fz_check_start(const unsigned char head[9]) {
  if (head[3] != 4) {                      /* the server's preface: SETTINGS */
    fprintf(stderr, "answer stream starts with frame type %u\n", head[3]);
    abort();
  }
}

static const fz_target_t fz_http2 = {
  .http2 = true,
  .fixed_shift = 3,
  .handler = fz_handler,
  .on_head = fz_on_head,
  .answer = fz_answer_kept,
  .check_start = fz_check_start,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fz_run(&fz_http2, data, size);
}
