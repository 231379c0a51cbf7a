/* core/fleet/rs_fleet_sub.c — the purge channel (rs_fleet.h): every purge
 * of the fleet applied here in sequence order, from the channel or, after a
 * gap or a reconnection, from the purge log; a full local purge when the log
 * no longer holds what was missed. On the fleet's (main) loop. */
#include "rs_fleet.h"
#include "rs_fleet_int.h"

#include "rs_log.h"

#include <stdlib.h>
#include <string.h>

static void rs__ignore(rs_redis_t *r, void *data, const redisReply *reply, int status) {
  (void)r, (void)data, (void)reply, (void)status;
}

static void rs__apply(rs_fleet_t *f, uint64_t seq, const char *kind, size_t klen, const char *arg, size_t alen) {
  static const rs_purge_by_t kinds[] = { RS_PURGE_KEY, RS_PURGE_PREFIX, RS_PURGE_TAG, RS_PURGE_ALL };
  bool soft = klen > 5 && memcmp(kind, "soft-", 5) == 0;
  for (size_t i = 0; i < RS_ARRAY_SIZE(kinds); i++) {
    const char *name = rs_fleet__kind(kinds[i], soft);
    if (strlen(name) == klen && memcmp(name, kind, klen) == 0) {
      f->o.on_purge(f->o.purge_data, kinds[i], arg, alen, soft);
      f->stats.purges_applied++;
      break;
    }
  }
  f->applied = seq;
}

static void rs__full_purge(rs_fleet_t *f, uint64_t seq, const char *why) {
  rs_log_warn("fleet: %s: every local page purged (purge sequence %llu)", why, (unsigned long long)seq);
  f->o.on_purge(f->o.purge_data, RS_PURGE_ALL, "", 0, false);
  f->stats.full_purges++;
  f->applied = seq;
}

static void rs__replay(rs_fleet_t *f);

static void rs__replayed(rs_redis_t *r, void *data, const redisReply *reply, int status) {
  (void)r;
  rs_fleet_t *f = data;
  f->replaying = false;
  if (status != 0 || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
      reply->element[0]->type == REDIS_REPLY_ERROR) {
    f->replay_again = true;                      /* retried on the next message or connection */
    return;
  }
  const redisReply *cur = reply->element[0], *log = reply->element[1];
  uint64_t now = cur->type == REDIS_REPLY_STRING ? strtoull(cur->str, NULL, 10) : 0;
  f->stats.replays++;
  if (!f->connected_once) {
    f->connected_once = true;
    /* A first connection soon after start finds nothing cached here; one
     * that came late (Redis was down at start) may have pages rendered
     * while purges went unheard. */
    if (uv_now(f->loop) - f->started > 2000) rs__full_purge(f, now, "connected late to the shared tier");
    else f->applied = now;
  } else if (now > f->applied) {
    bool whole = log->type == REDIS_REPLY_ARRAY && log->elements > 0;
    uint64_t expect = f->applied + 1;
    for (size_t i = 0; whole && i < log->elements; i++) {
      const redisReply *ent = log->element[i];
      if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 || ent->element[0]->type != REDIS_REPLY_STRING ||
          ent->element[1]->type != REDIS_REPLY_ARRAY || ent->element[1]->elements != 4) {
        whole = false;
        break;
      }
      uint64_t seq = strtoull(ent->element[0]->str, NULL, 10);
      if (seq < expect) continue;
      if (seq != expect) {                       /* trimmed past where we were */
        whole = false;
        break;
      }
      const redisReply *kv = ent->element[1];
      rs__apply(f, seq, kv->element[1]->str, kv->element[1]->len, kv->element[3]->str, kv->element[3]->len);
      expect = seq + 1;
    }
    if (!whole || f->applied < now) rs__full_purge(f, now, "the purge log no longer holds what was missed");
  }
  if (f->seen > f->applied || f->replay_again) {
    f->replay_again = false;
    rs__replay(f);
  }
}

/* Catch up with the purge log: GET seq and XRANGE from the next one, in one
 * MULTI so both describe the same moment. */
static void rs__replay(rs_fleet_t *f) {
  if (f->replaying || !rs_redis_ready(f->cmd)) {
    if (!f->replaying) f->replay_again = true;
    return;
  }
  char from[32], count[24];
  snprintf(from, sizeof(from), "%llu-1", (unsigned long long)(f->applied + 1));
  snprintf(count, sizeof(count), "%u", f->o.plog_max);
  const char *multi[] = { "MULTI" }, *get[] = { "GET", f->k_seq },
             *range[] = { "XRANGE", f->k_plog, from, "+", "COUNT", count }, *exec[] = { "EXEC" };
  if (rs_redis_cmd(f->cmd, rs__ignore, NULL, 0, 1, multi, NULL) < 0) {
    f->replay_again = true;
    return;
  }
  rs_redis_cmd(f->cmd, rs__ignore, NULL, 0, 2, get, NULL);
  rs_redis_cmd(f->cmd, rs__ignore, NULL, 0, 6, range, NULL);
  if (rs_redis_cmd(f->cmd, rs__replayed, f, f->o.write_timeout_ms, 1, exec, NULL) == 0) f->replaying = true;
  else f->replay_again = true;
}

void rs_fleet__on_purge_msg(rs_redis_t *r, void *data, const char *ch, size_t clen, const char *msg, size_t mlen) {
  (void)r, (void)ch, (void)clen;
  rs_fleet_t *f = data;
  /* "seq kind arg": the argument may hold spaces; only the first two split. */
  const char *sp1 = memchr(msg, ' ', mlen);
  if (sp1 == NULL) return;
  const char *sp2 = memchr(sp1 + 1, ' ', mlen - (size_t)(sp1 + 1 - msg));
  if (sp2 == NULL) return;
  uint64_t seq = strtoull(msg, NULL, 10);
  if (seq > f->seen) f->seen = seq;
  if (seq <= f->applied || !f->connected_once) return;
  if (seq == f->applied + 1 && !f->replaying) {
    rs__apply(f, seq, sp1 + 1, (size_t)(sp2 - sp1 - 1), sp2 + 1, mlen - (size_t)(sp2 + 1 - msg));
    return;
  }
  rs__replay(f);                                 /* a gap: missed messages are in the log */
}

void rs_fleet__sub_ready(rs_redis_t *r, void *data) {
  (void)r;
  rs__replay(data);
}

void rs_fleet__cmd_ready(rs_redis_t *r, void *data) {
  (void)r;
  rs_fleet_t *f = data;
  if (f->replay_again && rs_fleet_subscribed(f)) {
    f->replay_again = false;
    rs__replay(f);
  }
}
