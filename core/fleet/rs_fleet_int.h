/* core/fleet/rs_fleet_int.h — what rs_fleet.c (lookups, stores, purges
 * sent, life) and rs_fleet_sub.c (the purge channel: purges applied in
 * order, the log's replay) share. Private to core/fleet/. */
#ifndef RS_FLEET_INT_H
#define RS_FLEET_INT_H

/* Include rs_fleet.h first: a private header leaves its module's public one
 * to the files that include it, so the two never include each other. */
#ifndef RS_FLEET_H
#error "include rs_fleet.h before rs_fleet_int.h"
#endif

/* The process's part (rs_fleet.h): its subscriber, the purge log cursor. */
struct rs_fleet_s {
  uv_loop_t *loop;
  rs_fleet_opts_t o;
  char *prefix;
  char *k_seq, *k_te, *k_tp, *k_plog, *chan;
  char *k_se, *k_sp;             /* the soft purges' markers (as k_te, k_tp) */
  char *k_life;                  /* the latest expiry of a page in the tier */
  char *k_tex, *k_tpx, *k_sex, *k_spx;   /* the markers' expiries (rs_fleet.h) */
  rs_redis_t *sub;               /* the purge channel */
  rs_redis_t *cmd;               /* replay of the purge log */
  uint64_t applied;              /* last purge sequence applied here */
  uint64_t seen;                 /* highest sequence heard on the channel */
  uint64_t started;              /* uv_now at rs_fleet_new */
  bool replaying, replay_again, connected_once;
  rs_fleet_stats_t stats;
};

/* The fleet's name of a purge ("key", "soft-tag"...): the purge log's and
 * the channel's. */
const char *rs_fleet__kind(rs_purge_by_t by, bool soft);

/* The purge channel (rs_fleet_sub.c): its messages, and each time the
 * subscription or the command connection is (again) ready. */
void rs_fleet__on_purge_msg(rs_redis_t *r, void *data, const char *ch, size_t clen, const char *msg, size_t mlen);
void rs_fleet__sub_ready(rs_redis_t *r, void *data);
void rs_fleet__cmd_ready(rs_redis_t *r, void *data);

#endif
