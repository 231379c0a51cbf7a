/* core/gateway/rs_errpage.c — see rs_errpage.h. */
#include "rs_errpage.h"

#include "rs_cache.h"
#include "rs_key.h"
#include "rs_log.h"
#include "rs_policy.h"
#include "rs_pool.h"
#include "rs_router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *rs__retry(int status) { return status == 503 ? "Retry-After: 1\r\n" : ""; }

bool rs_errpage_respond(rs_req_t *req, int status) {
  rs_loop_gen_t *lg = rs_req_gen(req);
  if (lg == NULL) return false;  /* refused before dispatch: the plain page */
  const rs_route_match_t *m = rs_req_match(req);
  const rs_route_t *route = m != NULL ? m->route : NULL;
  const rs_errpage_t *pg = rs_errpages_find(route != NULL && route->errpages != NULL ? route->errpages
                                            : lg->cfg->errpages, status);
  if (pg == NULL) return false;
  if (pg->body == NULL) return rs_errpage__render(req, lg, pg->target, status);
  char h[160];
  int n = snprintf(h, sizeof(h), "Content-Type: %s\r\n%s", pg->type, rs__retry(status));
  /* The bytes belong to the request's generation, which outlives the
   * answer; the header lines are copied at once (extra). */
  rs_resp_t resp = { .status = status, .extra = h, .extra_len = n > 0 && (size_t)n < sizeof(h) ? (size_t)n : 0,
                     .body = pg->body, .body_len = pg->body_len };
  rs_req_respond(req, &resp);
  return true;
}

void rs_errpage_answer(rs_req_t *req, int status, const char *extra) {
  if (rs_errpage_respond(req, status)) return;
  rs_req_respond_error(req, status, extra);
}
