/* core/base/rs_limit.h — the state of request-rate and connection limits
 * (nginx's limit_req and limit_conn zones), shared by every loop thread.
 *
 * One table of keys: a key is a zone (which route's limit, a 64-bit id) and
 * the bytes the limit counts by (a client address, a header value...).
 * Each key holds a leaky bucket as nginx's limit_req keeps it (the excess,
 * in thousandths of a request, and when it last passed) and a count of the
 * requests in flight (limit_conn).
 *
 * The table is lock-striped: RS_LIMIT_STRIPES stripes, each a mutex, a
 * chained hash and an LRU list, so loop threads counting different clients
 * rarely meet. Memory is bounded: at most max_keys keys in all (each stripe
 * its share). A key whose bucket has drained and that has nothing in
 * flight is the same as no key, so it is dropped whenever a stripe needs
 * room, without losing anything; past that, the least recently used key
 * with nothing in flight goes (its bucket forgotten, as nginx's zone does
 * when full). Only when every key of a stripe has requests in flight is a
 * new key refused. Every function is thread-safe. */
#ifndef RS_LIMIT_H
#define RS_LIMIT_H

#include "rs_common.h"

#define RS_LIMIT_STRIPES 64
/* Bytes each key costs beyond its bytes (for the README's sizing). */
#define RS_LIMIT_KEY_OVERHEAD 96
#define RS_LIMIT_KEY_MAX 1024

typedef struct rs_limit_table_s rs_limit_table_t;
typedef struct rs_limit_key_s rs_limit_key_t;

rs_limit_table_t *rs_limit_table_create(size_t max_keys);
void rs_limit_table_destroy(rs_limit_table_t *t);
/* A new bound (a reload): applies as keys come and go. */
void rs_limit_table_set_max(rs_limit_table_t *t, size_t max_keys);
/* Keys held now (all stripes). */
size_t rs_limit_table_count(rs_limit_table_t *t);

typedef enum {
  RS_LIMIT_PASS = 0,
  RS_LIMIT_REJECT,               /* over the limit */
  RS_LIMIT_FULL,                 /* no room for a new key (every one busy) */
} rs_limit_verdict_t;

/* limit_req: one request for key in zone under a leaky bucket of rate
 * (thousandths of a request per minute, exact for both of nginx's units:
 * "10r/s" is 600000, "30r/m" 30000)
 * and burst (requests beyond the rate that may pass at once), at now_ms
 * (monotonic). As nginx's: a key's excess grows by 1000 per request and
 * leaks at rate; a request that would take it past burst * 1000 is
 * rejected and changes nothing. On RS_LIMIT_REJECT, *retry_ms is when the
 * next one would pass. */
rs_limit_verdict_t rs_limit_req(rs_limit_table_t *t, uint64_t zone, const char *key, size_t klen,
                                uint64_t rate, uint64_t burst, uint64_t now_ms, uint64_t *retry_ms);

/* limit_conn: take one of max slots of key in zone. RS_LIMIT_PASS sets
 * *held, to give back with rs_limit_conn_release exactly once (the key
 * stays in the table until then). */
rs_limit_verdict_t rs_limit_conn_take(rs_limit_table_t *t, uint64_t zone, const char *key, size_t klen,
                                      uint32_t max, rs_limit_key_t **held);
void rs_limit_conn_release(rs_limit_table_t *t, rs_limit_key_t *held);

#endif
