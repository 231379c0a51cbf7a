/* core/base/rs_coding.h — content codings (identity, gzip, br): their names,
 * what an Accept-Encoding value accepts, and the options of on-the-fly
 * compression (ssr.config's `compress`, README "Compression").
 *
 * Shared by the page cache (core/cache/rs_entry.h picks a stored variant),
 * the HTTP layer's output filter (core/http/rs_compress.h) and the config
 * (core/conf/rs_config.h). Pure functions; any thread. */
#ifndef RS_CODING_H
#define RS_CODING_H

#include "rs_common.h"

typedef enum {
  RS_ENC_IDENTITY = 0,
  RS_ENC_GZIP,
  RS_ENC_BR,
  RS_ENC_MAX
} rs_encoding_t;

/* Names for logs and the Content-Encoding header: "identity", "gzip", "br". */
const char *rs_encoding_name(rs_encoding_t enc);

/* The effective q-value (0..1000) of each coding for an Accept-Encoding
 * value (RFC 9110 §12.5.3), into q[RS_ENC_*]. NULL or empty: identity 1000,
 * the others 0. Codings are case-insensitive, "x-gzip" is gzip; "*" gives
 * its q to every coding not listed; identity is acceptable (1000) unless
 * "identity;q=0", or "*;q=0" without an identity entry, refuses it; a
 * coding listed twice keeps its highest q; an element whose q-value does
 * not parse is ignored, as is any other parameter. */
void rs_coding_accept_q(const char *accept, size_t len, int q[RS_ENC_MAX]);

/* On-the-fly compression (nginx's gzip filter, with brotli): what the HTTP
 * layer's filter compresses, and how hard. Held by value in the config (no
 * owned memory), read by loop threads. */
#define RS_COMPRESS_TYPES_MAX 32
#define RS_COMPRESS_TYPE_LEN 80
typedef struct {
  bool on;                       /* false: never (compress = false) */
  int gzip_level;                /* 1..9; 0 = no gzip */
  int brotli_quality;            /* 0..11; -1 = no br */
  size_t min_length;             /* bodies known to be shorter stay identity */
  size_t ntypes;
  /* Lower-case media types without parameters ("text/css"), a family
   * ("text/" then "*") or "*" (anything); text/html is always compressed. */
  char types[RS_COMPRESS_TYPES_MAX][RS_COMPRESS_TYPE_LEN];
} rs_compress_opts_t;

/* The defaults: on, gzip 5, br 4, 256 bytes, the usual text types. */
void rs_compress_opts_default(rs_compress_opts_t *o);

/* Does media type t (a Content-Type value: parameters and case ignored)
 * fall under o's types (or text/html)? */
bool rs_compress_type_ok(const rs_compress_opts_t *o, const char *t, size_t len);

/* This thread's gzip deflate state at level (1..9), reset and ready for a
 * new stream (windowBits 15 + 16), or NULL when out of memory. One per
 * thread, kept between bodies: deflateInit2 mallocs ~270 KB and clears part
 * of it, and when that memory goes back to the system on each deflateEnd
 * (glibc trims the heap top) every body pays the page faults again: 108 µs
 * instead of 55 for a 14 KB page (bench/cache_bench.c). Freed by a
 * thread-exit destructor. Shared by the page cache's variants
 * (core/cache/rs_entry.c) and the compression filter (core/http/rs_compress.c). */
struct z_stream_s *rs_coding_deflater(int level);

#endif
