/* core/http/rs_h2_int.h — private to rs_h2.c (the session, the client's
 * frames, requests) and rs_h2_out.c (answers, the bytes out): an HTTP/2
 * connection and its streams. nghttp2 does the framing, HPACK and flow
 * control; the streams, what they hold and the limits are ours.
 * Loop thread, every function. */
#ifndef RS_H2_INT_H
#define RS_H2_INT_H

#ifndef RS_CONN_INT_H
#error "include rs_conn_int.h before rs_h2_int.h"
#endif

#include <nghttp2/nghttp2.h>

#define RS__H2_MAX_STREAMS 128          /* limits.http2_streams' default (nginx's) */
/* Request bodies and flow control (rs__h2_budget). The bytes of request
 * bodies a connection holds are bounded by the windows it advertises, which
 * reopen only as handlers take the bytes (nginx's http2 module does the
 * same with its preread buffer and client_body_buffer_size):
 * - PREREAD: every stream's window until its body is let in: 64 KB - 1, the
 *   protocol's default (nginx's http2_body_preread_size 64k). A small POST
 *   needs no WINDOW_UPDATE; a client that sends more on a stream whose body
 *   waits gets RST_STREAM FLOW_CONTROL_ERROR (nghttp2's check, as nginx).
 * - a buffered body (the handler wants it whole) is let in, oldest stream
 *   first, when the connection's window has room for all of it besides
 *   CONN_SLACK (the others' preread; with none let in, the oldest goes
 *   anyway); its stream's window then becomes its whole size (one
 *   WINDOW_UPDATE).
 * - STREAM_WINDOW: a streamed body's window (the proxy), reopened as its
 *   consumer takes the bytes: 256 KB in flight keeps an upload at speed
 *   over a path of 25 ms at 80 Mbit/s, and is what HTTP/1's reader lets
 *   wait per request.
 * - the connection's window: limits.body + CONN_SLACK, so a connection holds
 *   at most one body of limits.body plus 16 streams' preread (HTTP/1.1 holds
 *   one body plus its 64 KB read buffer); received bytes go back to it when
 *   their request is over (a buffered body) or its consumer took them (a
 *   streamed one). A client that sends past it gets GOAWAY
 *   FLOW_CONTROL_ERROR. Bodies waiting to be let in whose preread would
 *   keep the ones let in from finishing are refused (RST_STREAM
 *   REFUSED_STREAM, the newest first; RFC 9113 §8.7: the client may retry
 *   them). */
#define RS__H2_PREREAD 65535
#define RS__H2_STREAM_WINDOW (256 * 1024)
#define RS__H2_CONN_SLACK (16 * 65536)
#define RS__H2_SEGS 64                  /* iovec entries per write */
#define RS__H2_BATCH (256 * 1024)       /* bytes per write */
/* Rapid reset (CVE-2023-44487): RST_STREAMs from the client, a token bucket
 * of RESET_BURST refilled at RESET_RATE a second (h2o's reset budget; the
 * library's own, looser, stays behind it). */
#define RS__H2_RESET_BURST 200
#define RS__H2_RESET_RATE 100

/* A piece of a streamed answer, waiting for the stream's window. */
typedef struct rs__h2chunk_s {
  struct rs__h2chunk_s *next;
  size_t len, off;
  char data[];
} rs__h2chunk_t;

enum { RS__H2B_NONE = 0, RS__H2B_MEM, RS__H2B_STREAM };

typedef struct rs_h2s_s {
  struct rs_h2s_s *prev, *next;  /* h->streams, then h->dead */
  struct rs_h2_s *h;
  int32_t id;
  rs_req_t *r;                   /* NULL once orphaned to its handler or freed */
  size_t hdr_bytes;              /* header list size, as SETTINGS counts it */
  size_t body_in;                /* request body bytes received */
  rs_req_error_t err;            /* a refusal found while its head came */
  size_t o_method, l_method, o_path, l_path, o_auth, l_auth;  /* arena offsets */
  bool has_method, has_path, has_auth;
  bool dispatched;               /* the handler has the request */
  bool responded;                /* an answer was submitted */
  bool streaming;                /* by rs_req_stream_start: the handler holds
                                    the request until rs_req_stream_end */
  bool end_in;                   /* the client's END_STREAM came */
  bool end_pending;              /* ... and waits behind held body bytes */
  bool paused;                   /* rs_req_body_pause */
  bool closed;                   /* nghttp2 closed the stream */
  /* Flow control of its request body (rs__h2_budget) */
  bool buffering;                /* a body to read whole before dispatch */
  bool admitted;                 /* ... let in: its window reopens as it comes */
  bool dropped;                  /* refused (REFUSED_STREAM): its bytes dropped */
  size_t expect;                 /* a buffered body's size: content-length, else limits.body */
  size_t held_conn;              /* received, not yet given back to the connection's window */
  /* The answer's body */
  int kind;
  const char *body;              /* MEM: body, then file bytes */
  size_t body_len, body_off;
  int fd;
  int64_t file_off;
  size_t file_len;
  const char *nc_p;              /* a DATA frame's payload, sent without copy;
                                    NULL: file bytes at nc_off, read straight
                                    into the write's buffer */
  int64_t nc_off;
  rs__h2chunk_t *q, *qtail;      /* STREAM: pieces queued */
  size_t qbytes;
  bool ended, drain;
  /* A streamed request body held while its consumer is paused */
  char *held;
  size_t held_len, held_cap;
} rs__h2s_t;

typedef struct rs__h2seg_s {
  const char *p;                 /* external bytes, or NULL: off into buf */
  size_t off, len;
} rs__h2seg_t;

typedef struct rs_h2_s {
  nghttp2_session *ng;
  rs_conn_t *c;
  rs__h2s_t *streams;            /* open */
  size_t nstreams;
  rs__h2s_t *dead;               /* closed, freed once no write holds their bytes */
  /* The write being filled, then in flight (one at a time) */
  uv_write_t w;
  bool writing;
  char *buf;
  size_t buf_len, buf_cap;
  rs__h2seg_t seg[RS__H2_SEGS];
  unsigned nseg;
  size_t batch;
  uint64_t progress, progress_seen;
  bool write_timed;
  int in_cb;                     /* inside nghttp2: no session_send, no free */
  bool dying;                    /* GOAWAY is going: close once it is written */
  bool draining;                 /* graceful GOAWAY sent: close at no streams */
  bool free_me;                  /* the conn closed while a write was out */
  size_t held;                   /* sum of the streams' held_conn */
  size_t window;                 /* the connection's receive window: limits.body + CONN_SLACK */
  double tokens;                 /* rapid-reset budget */
  uint64_t tokens_ms;
} rs_h2_t;

/* rs_h2.c */
rs__h2s_t *rs__h2s_get(rs_h2_t *h, int32_t id);
/* The request's stream is over for its handler: detach the request from it
 * (rs_req_respond and rs_req_stream_* then only free it); abort: on_abort. */
void rs__h2s_orphan(rs__h2s_t *s, bool abort);
/* Answer a request refused before its handler (431, 413, 400...). */
void rs__h2_refuse(rs_h2_t *h, rs__h2s_t *s, rs_req_error_t kind, const char *why);

/* rs_h2_body.c */
/* nghttp2's DATA callback: a request body's bytes. */
int rs__h2_on_data(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud);
/* Give a streamed body's held bytes (and its end) to its consumer. */
void rs__h2_deliver(rs_h2_t *h, rs__h2s_t *s);
/* n of s's received bytes go back to the connection's window. */
void rs__h2_release(rs_h2_t *h, rs__h2s_t *s, size_t n);
/* Let waiting buffered bodies in while the connection's window has room,
 * and refuse those whose preread would keep the ones let in from
 * finishing. After each read and each write. */
void rs__h2_budget(rs_h2_t *h);

/* rs_h2_out.c */
/* Produce frames and write them, unless a write is out or nghttp2 is on
 * the stack; close the connection when the session is over. */
void rs__h2_flush(rs_h2_t *h);
/* nghttp2's send callbacks. */
ssize_t rs__h2_send_cb(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *ud);
int rs__h2_send_data_cb(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd, size_t len,
                        nghttp2_data_source *src, void *ud);
/* Free a stream whose bytes no write holds any more, and its request. */
void rs__h2s_free(rs__h2s_t *s);
/* Count a GOAWAY (by reason) and end the session with code. */
void rs__h2_goaway(rs_h2_t *h, uint32_t code, int reason);

#endif
