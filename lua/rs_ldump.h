/* lua/rs_ldump.h — `rustyssr -T`: the effective configuration as a Lua
 * config file (nginx -T's use: what is really running, and from where). */
#ifndef RS_LDUMP_H
#define RS_LDUMP_H

#include <stdio.h>

#include "rs_config.h"

/* Print cfg to out as a config file that loads again into the same
 * settings and routes: every ssr.config setting with its value and, in a
 * comment, "FILE:LINE" where the file sets it or "default"; then every route
 * in declaration order with the file:line that declared it. Paths are
 * absolute where they exist. Lua hooks cannot be printed: each stands in as
 * a function that raises an error naming the original. Main thread. */
void rs_ldump_config(const rs_config_t *cfg, FILE *out);

/* s as a Lua string literal ("..." with the escapes a loader reads back),
 * for an action's dump (lua/rs_lroute.h). */
void rs_ldump_str(FILE *out, const char *s);

#endif
