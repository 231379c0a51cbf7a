/* core/base/rs_cookie.h — the Cookie request header (RFC 6265 §4.2, §5.4),
 * read one way everywhere: bypass rules, the cache key of a route's named
 * cookies, and the Cookie header a stored page's render sees.
 *
 *   cookie-string = pair *( ";" OWS pair ),  pair = name "=" value
 *
 * Read leniently, as browsers write it and servers read it: spaces and tabs
 * around names and values are dropped; a pair without '=' or with an empty
 * name is skipped; a value in double quotes counts without them
 * ("a=\"x\"" is a = x); names compare case-sensitively (RFC 6265: they are
 * case-sensitive, and browsers keep "SID" and "sid" apart). A name given
 * more than once: the FIRST wins, across every Cookie header of the request
 * in order, as nginx's $cookie_NAME and browsers (most specific path first)
 * do.
 *
 * Pure functions; any thread; no allocation except into a caller's buffer. */
#ifndef RS_COOKIE_H
#define RS_COOKIE_H

#include "rs_common.h"

/* The next pair of the Cookie header value [*p, end): *name and *value are
 * slices of it (value without its quotes, possibly empty); *p moves past
 * the pair. Returns false at the end. */
bool rs_cookie_next(const char **p, const char *end, rs_str_t *name, rs_str_t *value);

/* One named cookie as a request has it: present or not, and its value. */
typedef struct {
  rs_str_t value;                /* a slice of the request's header (valid as long) */
  bool present;
} rs_cookie_val_t;

/* For each name of names (NULL-ended) still absent in out[], its first value
 * in the Cookie header value v[0..len). Call it for each Cookie header of the
 * request, in order, with out[] zeroed first: the first pair of a name wins. */
void rs_cookie_pick(const char *const *names, const char *v, size_t len, rs_cookie_val_t *out);

/* Does the header value v[0..len) hold a pair named in names (NULL-ended)
 * with a non-empty value (any of its pairs: a bypass rule errs on the side
 * of bypassing)? */
bool rs_cookie_has(const char *v, size_t len, const char *const *names);

/* Append "a=1; b=2" to b: the present ones of out[] (rs_cookie_pick), in the
 * order of names, values as picked (without quotes). Returns how many. */
size_t rs_cookie_join(rs_buf_t *b, const char *const *names, const rs_cookie_val_t *out);

#endif
