/* shim/rs_v8.h — the only door to V8. A small C API over V8 (libnode108,
 * V8 10.2). Nothing outside shim/ includes a V8 header or is C++. */
#ifndef RS_V8_H
#define RS_V8_H

#ifdef __cplusplus
extern "C" {
#endif

/* The version string of the V8 linked in, e.g. "10.2.154.26-node.36".
 * Static storage; any thread. */
const char *rs_v8_version(void);

#ifdef __cplusplus
}
#endif
#endif
