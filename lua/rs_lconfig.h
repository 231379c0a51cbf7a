/* lua/rs_lconfig.h — runs the Lua config file and fills an rs_config_t.
 *
 *   local ssr = require "rustyssr"
 *   ssr.config { listen = "127.0.0.1:8080", workers = "auto", ... }
 *   ssr.route("GET", "/hello", { respond = { status = 200, body = "hi\n" } })
 *   ssr.respond("/health", 200, "ok\n")
 *
 * Errors read "FILE:LINE: reason", FILE:LINE being the user's line: Lua's own
 * message for a syntax or runtime error, the offending ssr.* call for a value
 * the module refuses.
 *
 * Loading is two steps so that each loop thread keeps a state of its own
 * (lua/rs_lhooks.c): rs_lconfig_state_new opens a state with the module registered,
 * rs_lconfig_run runs the file in it. rs_lconfig_load does both on a
 * throw-away state. */
#ifndef RS_LCONFIG_H
#define RS_LCONFIG_H

#include <lua.h>

#include "rs_config.h"
#include "rs_lstate.h"

/* Run the config file at path and fill cfg, which the caller has set up with
 * rs_config_init (the file overrides the defaults it names). Sets cfg->file.
 * Returns 0, or -1 with err set to "FILE:LINE: reason"; cfg may then be half
 * filled and is still the caller's to dispose: load a reload into a fresh
 * cfg and keep the old one on failure. Main thread; the Lua state is closed
 * before returning. */
int rs_lconfig_load(const char *path, rs_config_t *cfg, char *err, size_t errlen);

/* The same from a string (for tests): chunkname names the chunk in messages
 * ("t.lua" gives "t.lua:3: ..."); when it contains a '/', require also
 * searches its folder. cfg->file is left alone. */
int rs_lconfig_check_string(const char *chunk, const char *chunkname,
                            rs_config_t *cfg, char *err, size_t errlen);

/* A new LuaJIT state with the standard libraries, package.path set to
 * "./?.lua;./?/init.lua;DIR/?.lua;DIR/?/init.lua" (DIR = config_dir, NULL
 * for none), and require "rustyssr" returning the module whose calls fill
 * cfg. cfg must outlive the state. Returns NULL with err set when the state
 * cannot be made (out of memory). The caller lua_close()s it. */
lua_State *rs_lconfig_state_new(const char *config_dir, rs_config_t *cfg,
                                char *err, size_t errlen);

/* Run a chunk in a state from rs_lconfig_state_new: the file at name when
 * chunk is NULL, else chunk[0..len) named name. Returns 0, or -1 with err
 * set to "FILE:LINE: reason". L's stack is left as it was. A run longer
 * than RS_LCONFIG_RUN_MS (interpreted code) fails: "FILE:LINE: the config
 * file ran longer than ...". */
#define RS_LCONFIG_RUN_MS 10000
int rs_lconfig_run(lua_State *L, const char *name, const char *chunk, size_t len,
                   char *err, size_t errlen);

/* The TLS context of a listener's checked tls table (core/tls/rs_tls.h):
 * ALPN offers "h2" then "http/1.1" with http2, "http/1.1" alone without.
 * NULL with err ("cert.pem: cannot load the certificate: ..."). Main
 * thread (the loader's check, each configuration generation). */
struct rs_tls_ctx_s *rs_lconfig_tls_ctx(const rs_tls_conf_t *tc, bool http2, char *err, size_t errlen);

#endif
