/* core/http/rs_conn_int.h — private to the HTTP/1 connection files (libuv's
 * uv-common.h style): the connection struct, the request states and what
 * crosses between
 *   rs_conn.c        a connection's life: accept, reads, clocks, refusal, close, drain
 *   rs_conn_io.c     its bytes to and from the socket (the transport's one place)
 *   rs_req.c         request structs: recycling, the arena and the per-request pool
 *   rs_parse.c       llhttp callbacks, the head's checks, the framing scan, dispatch
 *   rs_write.c       answers: the head, ordered pipelined writes, file bodies
 *   rs_stream.c      streamed answers (chunked or sized, written as they come)
 *   rs_access_log.c  the access-log line
 * Nothing outside core/http/ includes it. Loop thread, every function. */
#ifndef RS_CONN_INT_H
#define RS_CONN_INT_H

/* Include rs_conn.h first: a private header leaves its module's public one to
 * the files that include it, so the two never include each other. */
#ifndef RS_CONN_H
#error "include rs_conn.h before rs_conn_int.h"
#endif

#include "rs_log.h"

#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  RS__REQ_PARSING = 0,
  RS__REQ_DISPATCHED,            /* the handler has it */
  RS__REQ_READY,                 /* answered, waiting for earlier answers */
  RS__REQ_WRITING,               /* in the outstanding uv_write */
  RS__REQ_STREAMING,             /* head written, body written as it comes */
};

/* rs_req_t._stream: how a streamed body is framed. */
enum { RS__ST_LENGTH = 1, RS__ST_CHUNKED, RS__ST_EOF, RS__ST_NONE };
#define RS__STREAM_HIGH (256 * 1024)  /* queued bytes that stop the producer */
#define RS__STREAM_LOW (64 * 1024)    /* ... and let it go on again */

/* A piece of a streamed body, in its own uv_write. */
typedef struct rs__chunk_s {
  uv_write_t w;
  rs_conn_t *c;
  struct rs__chunk_s *next;
  size_t len;                    /* data bytes */
  size_t wire;                   /* bytes on the wire (with chunk framing) */
  bool raw;                      /* data goes out as it is (the chunked end) */
  char prefix[24];
  char data[];
} rs__chunk_t;

#define RS__MAX_IOV 64
#define RS__LINGER_MS 2000       /* read-and-discard after a final error */
#define RS__FREE_REQS_MAX 256
#define RS__SENDFILE_SLICE (512 * 1024)  /* file bytes per loop turn and connection */

struct rs_conn_s {
  uv_tcp_t tcp;                  /* first: the handle's data is the conn */
  uv_timer_t timer;
  llhttp_t parser;
  rs_loop_t *loop;
  rs_conn_t *prev, *next;        /* loop->conns */
  int server;                    /* the listener that accepted it (rs_req_t.server) */

  rs_req_t *parsing;             /* the request being parsed, if any */
  rs_req_t *head, *tail;         /* requests parsed, in order, not yet written */
  size_t nqueued;
  size_t nwriting;
  uv_write_t wreq;

  char *leftover;                /* bytes read but not parsed (paused) */
  size_t leftover_len;
  /* Framing is checked before llhttp parses (rs_http_scan): the head of
   * each request and a chunked body, from the parser's pause at the end of
   * the head and at the end of each message. */
  rs_http_scan_t scan;
  bool scanning;                 /* scan runs over what llhttp gets next */
  bool hdr_check;                /* paused at the end of the header section */
  bool msg_check;                /* paused at the end of a message ... */
  bool msg_stop;                 /* ... and parsing stops there (queue full) */
  const char *why;               /* the reason of a refusal, for the log */

  uint64_t hdr_deadline;         /* end of the header phase (slowloris) */
  size_t body_limit_left;
  rs_req_error_t error;          /* set by a callback that refused the request */
  int hdr_state;                 /* 0 none, 1 in a field, 2 in a value */
  int handles;                   /* handles still open; freed at 0 */
  char peer[64];

  bool writing;
  bool paused;                   /* parser paused, reads stopped */
  bool in_body;
  bool no_more;                  /* take no further requests */
  bool read_eof;                 /* the client half-closed */
  bool lingering;
  bool closed;
  bool te_bad;                   /* a Transfer-Encoding we do not speak */
  bool served;                   /* a request has completed on it */
  bool write_timed;              /* the write clock runs for this write */
  size_t write_left;             /* write queue bytes when it last moved */
  bool sending;                  /* head's file body is going out (sendfile) */
  bool body_held;                /* reads stopped: a streamed body's consumer is full */
  size_t swrites;                /* streamed body writes in flight */
  size_t spending;               /* their data bytes */
  uint64_t sdone, sdone_seen;    /* pieces written: progress for the write clock */
  uv_poll_t *fpoll;              /* POLLOUT watch for sendfile, on fpoll_fd */
  int fpoll_fd;                  /* a dup of the socket: libuv lets only one
                                    handle watch an fd, and tcp has it */
  /* HTTP/2 (rs_h2.c): set once the client's preface chose it; the HTTP/1
   * fields above then stay unused but for the clock, the peer and close. */
  struct rs_h2_s *h2;
  bool proto_known;              /* HTTP/1 or HTTP/2 decided */
  uint8_t pre_len;               /* first bytes kept while deciding */
  char pre[4];
  struct rs__tio_s *tio;         /* TLS (rs_conn_io.c); NULL on a cleartext listener */
  bool alpn_h2;                  /* ALPN chose "h2" (rs_conn_io.c's rs__conn_proto
                                    picks the protocol) */
};
typedef struct rs__tio_s rs__tio_t;

/* rs_conn.c */
/* libuv's read callbacks: the loop thread's one read buffer, and the reads. */
void rs__conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
void rs__conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
/* Refuse the request being read: its status and "Connection: close" after
 * every earlier answer, then linger and close. */
void rs__conn_fail(rs_conn_t *c, rs_req_error_t kind, const char *detail);
/* The client's "ip:port", for the log. */
const char *rs__conn_peer(rs_conn_t *c);
/* Start the clock that applies now (header, body, keep-alive, write). */
void rs__conn_arm(rs_conn_t *c);
/* After a closing answer: FIN, then read and drop for a while, then close. */
void rs__conn_linger(rs_conn_t *c);
/* Close now: handler-held requests become orphans (on_abort), the rest go. */
void rs__conn_close(rs_conn_t *c);
/* The client's "ip:port" (looked up once). */
const char *rs__conn_peer(rs_conn_t *c);
/* A handle of c closed: c is freed with its last one. */
void rs__conn_handle_closed(uv_handle_t *h);

/* rs_conn_io.c: the connection's bytes (the one place that touches the
 * socket: a transport such as TLS goes there). */
void rs__conn_read_start(rs_conn_t *c);
void rs__conn_read_stop(rs_conn_t *c);
/* Bytes the client sent, as the protocol sees them: to the HTTP/1 parser. */
void rs__conn_input(rs_conn_t *c, const char *p, size_t n);
/* uv_write / uv_try_write on the connection's socket, same semantics. */
int rs__conn_write(rs_conn_t *c, uv_write_t *w, const uv_buf_t *bufs, unsigned n, uv_write_cb cb);
int rs__conn_try_write(rs_conn_t *c, const uv_buf_t *bufs, unsigned n);
/* Bytes given to rs__conn_write and not yet taken by the socket. */
size_t rs__conn_queued(rs_conn_t *c);
/* The transport's life, from rs_conn.c: at accept (TLS when the
 * listener has it), the handshake clock (true with *ms left while the
 * handshake runs; _timeout closes a late one and returns true),
 * close_notify before a FIN, the close of its handles, and its memory
 * with the connection's. */
void rs__conn_io_accept(rs_conn_t *c);
bool rs__conn_io_handshaking(rs_conn_t *c, uint64_t *ms);
bool rs__conn_io_timeout(rs_conn_t *c);
void rs__conn_io_shutdown(rs_conn_t *c);
void rs__conn_io_close(rs_conn_t *c);
void rs__conn_io_free(rs_conn_t *c);
void rs__conn_io_loop_dispose(void);
/* For the access log: the TLS version, cipher and SNI name (each NULL on
 * cleartext or before the handshake) and whether the session resumed. */
void rs__conn_io_tls_facts(rs_conn_t *c, const char **protocol, const char **cipher, const char **sni,
                           bool *reused);

/* rs_req.c */
/* A request for c, from the loop's recycled ones or new, cleared. */
rs_req_t *rs__req_new(rs_conn_t *c);
/* Release its answer, run its on_free, free its pool and buffers; keep
 * the struct for reuse (up to RS__FREE_REQS_MAX per loop). */
void rs__req_free(rs_req_t *r);
/* A dispatched request whose client went before its answer left (an
 * orphan, answered now by its handler): its status becomes 499, nginx's
 * "client closed request", counted in rustyssr_requests_total as its
 * owner's on_free counts it in the request histogram. Does not free it. */
void rs__req_gone(rs_req_t *r);
/* Append n bytes (p NULL: room only) to the request's url/header arena;
 * -1 out of memory. Pointers into it stay offsets until the head is done. */
int rs__req_append(rs_req_t *r, const char *p, size_t n);
/* A new header slot in r (grown as needed), or NULL out of memory. */
rs_header_t *rs__req_header_slot(rs_req_t *r);

/* rs_parse.c */
/* Check the framing of, then parse, data[0..len): dispatches what
 * completes, pauses (keeping the rest) or fails the connection. */
void rs__conn_parse(rs_conn_t *c, const char *data, size_t len);
/* Take the parked bytes again once the queue has room. */
void rs__conn_resume(rs_conn_t *c);
/* Set up c's parser and framing scan for its first request. */
void rs__conn_parser_init(rs_conn_t *c);

/* rs_write.c */
/* After an answer has been written: close, or send the next, or read more. */
void rs__conn_next(rs_conn_t *c, bool last_close);
/* Bytes queued and not yet taken by the socket, for the write clock. */
size_t rs__conn_unsent(rs_conn_t *c);
/* Write the ready prefix of the queue in one uv_write. */
void rs__conn_flush(rs_conn_t *c);

/* rs_stream.c */
/* A streamed answer's head has been written: send what waited, finish if
 * all is said. */
void rs__stream_kick(rs_conn_t *c);
/* A streamed answer's head is leaving: its pieces written so far (and the
 * chunked end) join bufs[*n..], in the same uv_write. */
void rs__stream_inhead(rs_req_t *r, uv_buf_t *bufs, unsigned *n);

/* rs_h2.c, rs_h2_out.c: HTTP/2 (RFC 9113) over nghttp2, beside HTTP/1 */
/* The connection's first bytes: the HTTP/2 preface on a listener that
 * takes it switches c to HTTP/2 and takes them (true); false: HTTP/1's. */
bool rs__h2_sniff(rs_conn_t *c, const char *p, size_t n);
/* Bytes from an HTTP/2 client. */
void rs__h2_input(rs_conn_t *c, const char *p, size_t n);
/* rs__conn_arm for an HTTP/2 connection. */
void rs__h2_arm(rs_conn_t *c);
/* rs__conn_close: its streams end (handlers' requests are orphaned). */
void rs__h2_close(rs_conn_t *c);
/* Graceful shutdown: GOAWAY, the streams in flight finish, then close. */
void rs__h2_drain(rs_conn_t *c, rs_h2_goaway_t reason);
/* The public answer functions, for a request that came on a stream. */
void rs__h2_respond(rs_req_t *r, const rs_resp_t *resp);
int rs__h2_stream_start(rs_req_t *r, int status, const char *headers, size_t headers_len,
                        int64_t content_length, const char *body, size_t n);
bool rs__h2_stream_write(rs_req_t *r, const char *p, size_t n);
void rs__h2_stream_end(rs_req_t *r, bool complete);
void rs__h2_body_pause(rs_req_t *r, bool paused);

/* rs_access_log.c */
/* Append r's access-log line to the loop's buffer (rs_access_log.c). */
void rs__access_log(rs_req_t *r, rs_conn_t *c);

/* v in decimal at p (at most 20 bytes); returns the end. For the heads of
 * both protocols (snprintf's "%llu" was 1.7% of an HTTP/2 hit over TLS). */
static inline char *rs__put_u64(char *p, uint64_t v) {
  char tmp[24];
  int i = 0;
  do { tmp[i++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (i) *p++ = tmp[--i];
  return p;
}

#endif
