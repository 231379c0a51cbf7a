/* core/cache/rs_key.h — page cache keys, in a form where no field can run into
 * the next one, whatever the request or a key hook holds.
 *
 *   default key   "GET " HOST PATH ["?" QUERY] FIELDS
 *   key hook's    "~" HOST " " HOOK FIELDS
 *   FIELDS        ("\n" NAME [":" VALUE])*   one per header the route names
 *                 ("\n;" COOKIE ["=" VALUE])* one per cookie the route names
 *                 ["\n@" VERSION]              cache.version, when set
 *
 * HOST is lower-cased, without its port, and every byte outside RFC 3986's
 * reg-name / IP-literal characters (letters, digits, "-._~!$&'()*+,;=:[]")
 * is percent-encoded, '%' included: a HOST never holds '/', '?', ' ' or a
 * control byte, so "Host: victim.example/catalog" + "/shoes" is
 * "GET victim.example%2Fcatalog/shoes", never victim.example's
 * "/catalog/shoes". PATH always begins with '/' and keeps only pchar and
 * '/' as they are (the rest, '%', '?' and '#' included, is percent-encoded),
 * so the first '?' ends it. QUERY is last before FIELDS; its parameters
 * are sorted by name only, stably (?x=1&x=2 is not ?x=2&x=1), however many
 * there are, and its control bytes are encoded, so it holds no '\n'.
 *
 * A key hook's string lands in its own namespace: it starts with '~',
 * which no default key does, and it is combined with the request's HOST
 * (as Varnish hashes the host beside whatever vcl_hash adds): a hook can
 * never produce another host's page, nor a default key. HOOK is the hook's
 * string with '%' and control bytes percent-encoded (no '\n' inside).
 *
 * FIELDS are the headers the route names (route `headers = {...}`), in the
 * route's order: "\nname:v1, v2" when the request has the header (its
 * values joined as the bundle sees them), "\nname" when it has none.
 * Header values never hold '\n' (the parser refuses CR/LF in them).
 * Then the cookies the route names (route `cookies = {...}`), in its order:
 * "\n;name=value" when the request has it (the first pair of that name,
 * core/base/rs_cookie.h), "\n;name" when not; ';' and '@' are no header
 * name's characters, so these fields never pass for a header's. Last, the
 * config's cache.version: a new version is a new set of keys.
 *
 * Any thread; no allocation while the key fits the caller's buffer. */
#ifndef RS_KEY_H
#define RS_KEY_H

#include "rs_common.h"

typedef struct {
  char *p;                       /* the key (not NUL-terminated): _buf or heap */
  size_t len;
  size_t _cap;
  char *_buf;                    /* the caller's inline buffer */
} rs_key_t;

/* Start an empty key in buf[0..cap) (it grows onto the heap past it). */
void rs_key_init(rs_key_t *k, char *buf, size_t cap);

/* Free the heap block, if any. k->p is then invalid. */
void rs_key_dispose(rs_key_t *k);

/* Is k->p the caller's buffer (false: a heap block the caller now owns
 * and frees with free(), if it takes it instead of calling dispose)? */
static inline bool rs_key_inline(const rs_key_t *k) { return k->p == k->_buf; }

/* The default key of a request: method (HEAD is folded into GET), host
 * (with or without a port), path, query (without '?'; 0 = none). */
void rs_key_url(rs_key_t *k, const char *method, size_t mlen, const char *host, size_t hlen,
                const char *path, size_t plen, const char *query, size_t qlen);

/* The length of host without its port: a ':' then only digits at the
 * end, after a name or an IPv4 address ("a.example:8080") or after an
 * IP-literal's ']' ("[::1]:8080"); anything else keeps its bytes
 * ("a.example:80/x", "::1"). What the key and a stored page's render see. */
size_t rs_key_host_len(const char *host, size_t hlen);

/* A key hook's key: its string s, combined with the request's host. */
void rs_key_hook(rs_key_t *k, const char *host, size_t hlen, const char *s, size_t n);

/* Append one named header's field: "\nname" then, when present, ":" and
 * each value (rs_key_header_value). name as the route wrote it (lower-case). */
void rs_key_header(rs_key_t *k, const char *name, size_t nlen, bool present);
void rs_key_header_value(rs_key_t *k, const char *v, size_t vlen, bool first);

/* Append one named cookie's field: "\n;name", then "=value" when present
 * (value with '%' and control bytes percent-encoded). */
void rs_key_cookie(rs_key_t *k, const char *name, size_t nlen, const char *v, size_t vlen, bool present);

/* Append the version field "\n@version" (encoded as a cookie value). */
void rs_key_version(rs_key_t *k, const char *v, size_t vlen);

/* The hook part's form of s (percent-encoding as in a hook key), appended
 * to k: purges compare a hook's string through it. */
void rs_key_hook_escape(rs_key_t *k, const char *s, size_t n);

/* Has this process built a key with FIELDS (rs_key_header) / a hook key
 * (rs_key_hook) yet? Until then a purge by URL or by key is one exact
 * lookup, not a scan of every page. Any thread. */
bool rs_key_seen_fields(void);
bool rs_key_seen_hooks(void);

/* Does key (a stored key) come from a key hook? Then *hook / *hook_len are
 * its HOOK part and what follows (FIELDS), i.e. key after "~HOST ". */
bool rs_key_hook_part(const char *key, size_t len, const char **hook, size_t *hook_len);

#endif
