/* core/tls/rs_tls_client.h — TLS to upstreams (the client side), with
 * OpenSSL 3 over the engine the listeners' rs_tls.h runs: the upstream code
 * reads and writes its libuv socket as for cleartext and passes the bytes
 * through here, on its loop thread, with no thread of its own.
 *
 *   a context (rs_tlsc_ctx_t): what verifies the servers (the system store
 *   of ca-certificates, or a CA file), an optional client certificate,
 *   TLS 1.2 and 1.3; one per upstream and per loop;
 *
 *   a connection (an rs_tls_t made by rs_tlsc_new): SNI and the name the
 *   certificate must carry (a DNS name, or an IP address checked against
 *   the IP SANs), resumption with the last session the same server gave (a
 *   slot the caller keeps per server, rs_tlsc_slot_t); then driven as any
 *   connection of rs_tls.h, the one memory-BIO engine of both sides: feed
 *   it the socket's bytes, take the bytes to write, read and write
 *   plaintext.
 *
 * Threads: a context is made on one thread and may be used by any; a
 * connection and the slot it stores sessions in belong to one loop
 * thread. */
#ifndef RS_TLS_CLIENT_H
#define RS_TLS_CLIENT_H

#include "rs_common.h"
#include "rs_tls.h"

typedef struct rs_tlsc_ctx_s rs_tlsc_ctx_t;

typedef struct {
  const char *ca;                /* PEM file of trusted CAs; NULL: the system store */
  const char *cert;              /* PEM client certificate (and chain); NULL: none */
  const char *key;               /* its private key (with cert) */
  bool no_verify;                /* accept any certificate (verify = false) */
} rs_tlsc_opts_t;

/* A context, or NULL with err ("ca.pem: cannot load the CA file: no such
 * file"...). Loads the files now. */
rs_tlsc_ctx_t *rs_tlsc_ctx_new(const rs_tlsc_opts_t *o, char *err, size_t errlen);
/* The same, shared: every caller passing the same options and owner (a
 * configuration, so that each loop thread's upstreams use one context and
 * a reload loads the files again) gets the one context, counted. */
rs_tlsc_ctx_t *rs_tlsc_ctx_get(const rs_tlsc_opts_t *o, const void *owner, char *err, size_t errlen);
/* Free ctx, or drop one use of a shared one (connections made from it keep
 * what they need). Any thread. */
void rs_tlsc_ctx_free(rs_tlsc_ctx_t *ctx);

/* The last resumable session a server gave, for the next connection to it.
 * Zero-initialised; rs_tlsc_slot_clear frees what it holds. gen changes
 * when the slot is given to another server (rs_tlsc_slot_reuse): a
 * connection made for the old one stores nothing in it any more. */
typedef struct {
  void *sess;                    /* SSL_SESSION */
  uint32_t gen;
} rs_tlsc_slot_t;
void rs_tlsc_slot_clear(rs_tlsc_slot_t *s);
void rs_tlsc_slot_reuse(rs_tlsc_slot_t *s);

/* A client connection of ctx to host (a DNS name or an IP literal: what the
 * server's certificate must name); sni: the name sent and verified instead
 * (NULL: host, and no SNI for an IP). slot (may be NULL): the session to
 * offer, and where new ones go. Then rs_tls.h's calls: rs_tls_feed(t, NULL,
 * 0) makes the ClientHello to take and write; rs_tls_free frees it. */
rs_tls_t *rs_tlsc_new(rs_tlsc_ctx_t *ctx, const char *host, const char *sni, rs_tlsc_slot_t *slot);
/* Did the last RS_TLS_ERROR of t (made by rs_tlsc_new) come from the
 * certificate check? rs_tls_error(t) then says why
 * (X509_verify_cert_error_string). */
bool rs_tlsc_verify_failed(const rs_tls_t *t);

#endif
