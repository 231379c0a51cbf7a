/* core/tls/rs_tls.h — TLS for the listeners with OpenSSL 3 (Debian's
 * libssl-dev), over a memory BIO of its own: the connection code reads and writes the
 * socket as it does for cleartext and passes the bytes through here, so TLS
 * keeps one loop per thread and adds no thread.
 *
 *   a listener's context (rs_tls_ctx_t): its certificates, chosen by SNI
 *   (exact names and one-label wildcards from each certificate's
 *   subjectAltName, else its CN; the first certificate is the default),
 *   TLS 1.2 and 1.3 with a modern cipher list, ALPN chosen in the server's
 *   order, session resumption by tickets whose keys rotate (the current key
 *   encrypts, the previous one still decrypts) and by a session cache;
 *
 *   a connection (rs_tls_t): feed it the bytes read from the socket, take
 *   the bytes to write (the engine's chunks, not copied: rs_tls_send.h
 *   writes them on a libuv stream), read and write plaintext. The same
 *   engine and calls serve the upstreams' client connections (rs_tlsc_new,
 *   core/tls/rs_tls_client.h).
 *
 * Threads: a context is made and rotated on the main thread and used by
 * every loop thread (OpenSSL's SSL_CTX is safe for that; the ticket keys
 * have their own lock); a connection belongs to its loop thread. */
#ifndef RS_TLS_H
#define RS_TLS_H

#include "rs_common.h"

#include <sys/types.h>

typedef struct rs_tls_ctx_s rs_tls_ctx_t;
typedef struct rs_tls_s rs_tls_t;

typedef struct {
  const char *cert;              /* PEM: the certificate, then its chain */
  const char *key;               /* PEM: its private key */
  const char *ocsp;              /* DER: an OCSP response stapled for it; NULL = none */
} rs_tls_cert_conf_t;

typedef struct {
  const rs_tls_cert_conf_t *certs; /* the first is the default */
  size_t ncerts;
  const char *const *alpn;       /* protocols in the server's order of preference
                                    ("h2", "http/1.1"); none: no ALPN */
  size_t nalpn;
  const char *ciphers;           /* TLS 1.2 cipher list; NULL: ECDHE with AES-GCM
                                    and ChaCha20 (Mozilla's "intermediate") */
  bool tls13_only;               /* refuse TLS 1.2 */
  bool tls12_only;               /* refuse TLS 1.3 */
  uint32_t session_timeout_s;    /* tickets and cached sessions (0: 3600) */
  size_t session_cache;          /* server-side cache entries (0: 20480; off with tickets only
                                    when set to 1) */
  bool no_tickets;               /* no session tickets (nginx's ssl_session_tickets off):
                                    TLS 1.2 resumes from the cache only, TLS 1.3's
                                    tickets name a cached session (none with the cache off) */
} rs_tls_opts_t;

/* A context, or NULL with err ("cert.pem: no such file", "key.pem does not
 * match cert.pem", "cert.pem: no usable name"...). Main thread. */
rs_tls_ctx_t *rs_tls_ctx_new(const rs_tls_opts_t *o, char *err, size_t errlen);
/* Drop the maker's reference: ctx is freed once no connection of it is left
 * (each rs_tls_t holds one). Any thread. */
void rs_tls_ctx_free(rs_tls_ctx_t *ctx);
/* Start encrypting new tickets with a fresh key; the previous key keeps
 * decrypting (its tickets are renewed), the one before it is forgotten.
 * Any thread. */
void rs_tls_ctx_rotate_tickets(rs_tls_ctx_t *ctx);
/* The same, when every_ms (> 0) has passed since the current key began
 * (now_ms and that from rs_now_ms); true when it rotated. The phase goes
 * with the keys, shared ones included. Any thread. */
bool rs_tls_ctx_rotate_due(rs_tls_ctx_t *ctx, uint64_t now_ms, uint64_t every_ms);
/* From now on ctx encrypts and decrypts tickets with from's keys (its
 * current and previous ones and when the current one began), shared: a
 * reload's new context resumes the tickets the old one gave, and a
 * rotation of either is the other's. Each context keeps the keys as long
 * as it lives. Before ctx serves a connection; main thread. */
void rs_tls_ctx_share_tickets(rs_tls_ctx_t *ctx, rs_tls_ctx_t *from);

typedef struct {
  uint64_t handshakes, resumed, failed;
} rs_tls_stats_t;
void rs_tls_ctx_stats(rs_tls_ctx_t *ctx, rs_tls_stats_t *out);

/* A server connection of ctx. */
rs_tls_t *rs_tls_new(rs_tls_ctx_t *ctx);
/* Free a connection, a server's or a client's. NULL is a no-op. */
void rs_tls_free(rs_tls_t *t);

#define RS_TLS_OK 0
#define RS_TLS_ERROR (-1)        /* a failed handshake or a protocol error: send what
                                    rs_tls_take_chunks gives (an alert), then close */
#define RS_TLS_CLOSED (-2)       /* the peer sent close_notify */

/* Bytes read from the socket. Runs the handshake as far as they allow
 * (n = 0: as far as it goes without them, as a client's first call, which
 * makes its ClientHello to take). Returns RS_TLS_OK or RS_TLS_ERROR. */
int rs_tls_feed(rs_tls_t *t, const void *p, size_t n);

/* Plaintext from the peer into buf: > 0 bytes, 0 when more must be fed,
 * RS_TLS_CLOSED or RS_TLS_ERROR. */
ssize_t rs_tls_read(rs_tls_t *t, void *buf, size_t cap);

/* Encrypt n bytes of plaintext (after the handshake); RS_TLS_OK or
 * RS_TLS_ERROR. */
int rs_tls_write(rs_tls_t *t, const void *p, size_t n);

/* Send close_notify. */
void rs_tls_shutdown(rs_tls_t *t);

/* Bytes of ciphertext made and not taken yet. */
size_t rs_tls_pending(const rs_tls_t *t);

/* The ciphertext made so far as it was made, handed over without a copy:
 * a list of *n chunks (NULL when none) the caller writes in order and frees
 * with rs_tls_chunks_free (on a loop, rs_tls_send in rs_tls_send.h does
 * both). */
typedef struct rs_tls_chunk_s {
  struct rs_tls_chunk_s *next;
  size_t len, cap;
  char data[];
} rs_tls_chunk_t;
rs_tls_chunk_t *rs_tls_take_chunks(rs_tls_t *t, size_t *n);
void rs_tls_chunks_free(rs_tls_chunk_t *c);
/* Nothing more to do for now (what was read is answered): OpenSSL's record
 * buffers are freed unless they hold data. */
void rs_tls_idle(rs_tls_t *t);
/* Free the chunks this thread keeps for reuse (a loop thread, at its end). */
void rs_tls_thread_dispose(void);
/* Bytes fed and not yet read out as plaintext (records buffered, whole or
 * not): rs_tls_read may have more to give without another feed; a client
 * connection going back to a pool must have none. */
bool rs_tls_buffered(const rs_tls_t *t);

bool rs_tls_handshake_done(const rs_tls_t *t);
/* After the handshake: the protocol ALPN chose (NULL when none), the name
 * the client asked for (NULL without SNI), "TLSv1.3" / "TLSv1.2", and
 * whether the session was resumed. */
const char *rs_tls_alpn(const rs_tls_t *t, size_t *len);
const char *rs_tls_sni(const rs_tls_t *t);
const char *rs_tls_version(const rs_tls_t *t);
const char *rs_tls_cipher(const rs_tls_t *t);   /* OpenSSL's name: "TLS_AES_256_GCM_SHA384" */
bool rs_tls_resumed(const rs_tls_t *t);
/* Why the last RS_TLS_ERROR happened (OpenSSL's reason; on a client, the
 * certificate's verification error when that failed), for a log line. */
const char *rs_tls_error(const rs_tls_t *t);

#endif
