/* tests/fuzz/fuzz_harness.h — the harness fuzz_request.c (HTTP/1.1) and
 * fuzz_h2.c (HTTP/2) share: a real rs_conn_t on a real libuv loop, its
 * socket one end of an AF_UNIX socketpair (uv_tcp_open), so uv_write,
 * uv_try_write, uv_shutdown and reads take their real paths while the
 * fuzzer writes the client's bytes into the other end and reads the
 * answers back. fuzz_harness.c includes the core/http files (unit-test
 * style, STYLE.md "Tests": their static functions, the timers, are in
 * reach); a target gives its handler and checks (fz_target_t).
 *
 * Input of both targets:
 *   byte 0  flags:  1 half-close the client's side at the end
 *                   2 fire the connection's timer at the end
 *                   4 the handler may defer odd requests (fz_defer),
 *                     answered later in reverse order
 *                   8 drain (SIGTERM's path) half way through
 *                  16 the client stops reading answers (and closes its end
 *                     at the end, so pending writes fail)
 *                  32, 64, 128: the target's own
 *   byte 1  split:  how the rest is cut into writes: low 2 bits pick whole,
 *                   1-byte, fixed (split >> fixed_shift) + 1, or
 *                   pseudo-random sizes
 *   rest    the bytes the client sends (after the preface for HTTP/2)
 *
 * Checked beyond the sanitizers: the answer stream's first bytes (the
 * target's check_start), and the loop's connection list empty once the
 * connection has closed. */
#ifndef FUZZ_HARNESS_H
#define FUZZ_HARNESS_H

#include "rs_compress.h"
#include "rs_conn.h"

typedef struct {
  bool http2;                         /* the listener takes HTTP/2 and the
                                         client preface goes first (split
                                         bit 2: cut in two) */
  unsigned fixed_shift;               /* split >> this: the fixed piece size */
  void (*handler)(rs_req_t *r);
  void (*on_head)(rs_req_t *r);       /* or NULL */
  void (*answer)(rs_req_t *r);        /* a request fz_defer kept */
  /* The answer stream's first 9 bytes: abort() when they are wrong. */
  void (*check_start)(const unsigned char head[9]);
} fz_target_t;

extern unsigned fz_flags;             /* byte 0 of the input */
extern uint64_t fz_sink;              /* keeps reads of request fields alive */

/* Read every byte of s (ASan checks the pointers). */
void fz_touch(const rs_str_t *s);
/* Read every field a handler may read. */
void fz_touch_request(const rs_req_t *r);
/* With flag 4, keep odd requests to answer later (true: kept). */
bool fz_defer(rs_req_t *r);
/* Is r kept by fz_defer, not answered yet? */
bool fz_deferred(const rs_req_t *r);
/* A compression setting that compresses anything (no minimum length). */
const rs_compress_opts_t *fz_compress_all(void);

/* One input through a fresh connection, torn down at the end. */
int fz_run(const fz_target_t *t, const uint8_t *data, size_t size);

#endif
