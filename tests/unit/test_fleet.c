/* tests/unit/test_fleet.c — core/fleet/rs_fleet.c: two instances (two
 * rs_fleet_t with their loop parts, on one libuv loop) sharing a real
 * redis-server started on a free port: one render per page (LEAD, WAIT,
 * HIT with the same bytes), purges of every kind reaching both instances in
 * order, a render that began before a purge refused by the tier, purges
 * missed during a subscriber's disconnection replayed from the log (or a
 * full local purge once the log was trimmed), and a tier that is down
 * answering misses at once. */
#include "tap.h"

#include "rs_blob.h"
#include "rs_fleet.h"

#include <fcntl.h>
#include <stdlib.h>
#include <xxhash.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/rs-test-fleet-XXXXXX";

#include "redis_server.h"
static uv_loop_t loop;

static void tick(uv_timer_t *t) { (void)t; }

/* Run the loop until cond(arg) or ms pass. */
static bool run_until(bool (*cond)(void *), void *arg, uint64_t ms) {
  uv_update_time(&loop);
  uint64_t end = uv_now(&loop) + ms;
  uv_timer_t guard;
  uv_timer_init(&loop, &guard);
  bool ok;
  while (!(ok = cond(arg)) && uv_now(&loop) < end) {
    uv_timer_start(&guard, tick, 5, 0);
    uv_run(&loop, UV_RUN_ONCE);
    uv_update_time(&loop);
  }
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  return ok;
}
static bool never(void *arg) { (void)arg; return false; }
static void spin(uint64_t ms) { run_until(never, NULL, ms); }

/* ---------------------------------------------------------------- an instance */

typedef struct {
  rs_fleet_t *f;
  rs_fleet_loop_t *fl;
  int npurges;
  rs_purge_by_t kinds[256];
  bool softs[256];
  char args[256][64];
} inst_t;

static void on_purge(void *data, rs_purge_by_t kind, const char *arg, size_t len, bool soft) {
  inst_t *in = data;
  if (in->npurges < 256) {
    in->kinds[in->npurges] = kind;
    in->softs[in->npurges] = soft;
    snprintf(in->args[in->npurges], 64, "%.*s", (int)len, arg);
  }
  in->npurges++;
}

static bool inst_ready(void *arg) {
  inst_t *in = arg;
  return rs_fleet_loop_ready(in->fl) && rs_fleet_subscribed(in->f) && rs_fleet_stats(in->f)->replays > 0;
}

static void inst_start_opts(inst_t *in, int port, uint32_t backoff, const char *prefix, uint32_t lock_ms) {
  memset(in, 0, sizeof(*in));
  rs_fleet_opts_t o = {
    .redis = { .host = "127.0.0.1", .port = port, .timeout_ms = 1000, .connect_timeout_ms = 1000,
               .backoff_min_ms = backoff, .backoff_max_ms = backoff * 5 },
    .prefix = prefix, .write_timeout_ms = 1000, .lock_ms = lock_ms, .on_purge = on_purge, .purge_data = in,
  };
  in->f = rs_fleet_new(&loop, &o);
  in->fl = rs_fleet_loop_new(in->f, &loop);
}

static void inst_start_backoff(inst_t *in, int port, uint32_t backoff) {
  inst_start_opts(in, port, backoff, "t:", 5000);
}

static void inst_start(inst_t *in, int port) { inst_start_backoff(in, port, 20); }

static void inst_stop(inst_t *in) {
  rs_fleet_loop_close(in->fl);
  rs_fleet_close(in->f);
}

/* ---------------------------------------------------------------- lookups */

typedef struct {
  int n;
  rs_l3_result_t res;
  rs_entry_t *e;
  uint64_t seq;
} look_t;

static void on_look(void *data, rs_l3_result_t res, rs_entry_t *e, uint64_t seq) {
  look_t *l = data;
  l->n++;
  l->res = res;
  if (l->e) rs_entry_release(l->e);
  l->e = e;
  l->seq = seq;
}
static bool look_done(void *arg) { return ((look_t *)arg)->n > 0; }

/* A lookup by an instance that renders with bundle (0: any page will do);
 * another bundle's page is a miss with other_is_miss, else stale. */
static rs_l3_result_t lookup_b(inst_t *in, const char *key, uint64_t rid, uint64_t bundle, bool other_is_miss,
                               look_t *l) {
  if (l->e) rs_entry_release(l->e);
  memset(l, 0, sizeof(*l));
  rs_fleet_lookup(in->fl, key, strlen(key), 5, 9, rid, bundle, other_is_miss, on_look, l);
  if (l->n != 0) return (rs_l3_result_t)-1;      /* answered inside the call: never */
  if (!run_until(look_done, l, 5000)) return (rs_l3_result_t)-2;
  return l->res;
}

static rs_l3_result_t lookup(inst_t *in, const char *key, uint64_t rid, look_t *l) {
  return lookup_b(in, key, rid, 0, false, l);
}

static const char *const TAGS[] = { "catalog", "product:7" };

static rs_entry_t *page_ttl(const char *key, const char *body, size_t ntags, uint64_t ttl_ms, uint64_t grace_ms) {
  rs_entry_spec_t s;
  memset(&s, 0, sizeof s);
  s.key = key;
  s.key_len = strlen(key);
  s.status = 200;
  s.headers = "Content-Type: text/html\r\n";
  s.headers_len = strlen(s.headers);
  s.body = body;
  s.body_len = strlen(body);
  s.tags = TAGS;
  s.ntags = ntags;
  s.ttl_ms = ttl_ms;
  s.grace_ms = grace_ms;
  s.gzip_level = 1;
  s.brotli_quality = -1;
  s.min_compress = 1;
  return rs_entry_build(&s);
}

static rs_entry_t *page(const char *key, const char *body, size_t ntags) {
  return page_ttl(key, body, ntags, 60000, 10000);
}

typedef struct {
  inst_t *in;
  uint64_t want;
} stores_t;
static bool stores_done(void *arg) {
  stores_t *s = arg;
  const rs_fleet_stats_t *st = rs_fleet_loop_stats(s->in->fl);
  return st->stores + st->stores_refused >= s->want;
}

static void store(inst_t *in, rs_entry_t *e, uint64_t seq, uint64_t rid) {
  const rs_fleet_stats_t *st = rs_fleet_loop_stats(in->fl);
  stores_t s = { in, st->stores + st->stores_refused + 1 };
  rs_fleet_store(in->fl, e, seq, rid);
  run_until(stores_done, &s, 5000);
}

typedef struct {
  int n;
  uint64_t seq;
} purged_t;
static void on_purged(void *data, uint64_t seq) {
  purged_t *p = data;
  p->n++;
  p->seq = seq;
}
static bool purged_done(void *arg) { return ((purged_t *)arg)->n > 0; }

typedef struct {
  inst_t *in;
  uint64_t seq;
} applied_t;
static bool applied_done(void *arg) {
  applied_t *a = arg;
  return rs_fleet_applied_seq(a->in->f) >= a->seq;
}

/* Purge from in (soft: a soft purge); both a and b have applied it when
 * this returns. */
static uint64_t purge_ex(inst_t *in, rs_purge_by_t kind, const char *arg, bool soft, inst_t *a, inst_t *b) {
  purged_t p = { 0 };
  rs_fleet_purge(in->fl, kind, arg, strlen(arg), soft, on_purged, &p);
  if (!run_until(purged_done, &p, 5000) || p.seq == 0) return 0;
  applied_t wa = { a, p.seq }, wb = { b, p.seq };
  if (!run_until(applied_done, &wa, 5000) || !run_until(applied_done, &wb, 5000)) return 0;
  return p.seq;
}

static uint64_t purge(inst_t *in, rs_purge_by_t kind, const char *arg, inst_t *a, inst_t *b) {
  return purge_ex(in, kind, arg, false, a, b);
}

/* ---------------------------------------------------------------- tests */

static int port;
static pid_t pid;

static void test_one_render_per_page(void) {
  inst_t a, b;
  inst_start(&a, port);
  inst_start(&b, port);
  ASSERT(run_until(inst_ready, &a, 5000));
  ASSERT(run_until(inst_ready, &b, 5000));
  look_t la = { 0 }, lb = { 0 };
  const char *key = "GET shop.example/catalog";
  ASSERT_EQ(lookup(&a, key, 101, &la), RS_L3_LEAD);   /* a renders */
  ASSERT_EQ(lookup(&b, key, 202, &lb), RS_L3_WAIT);   /* b waits for it */
  uint64_t start = la.seq;
  rs_entry_t *e = page(key, "<p>the catalogue, rendered once, rendered once, rendered once, rendered once</p>", 2);
  store(&a, e, start, 101);
  ASSERT_EQ(rs_fleet_loop_stats(a.fl)->stores, 1);
  ASSERT_EQ(lookup(&b, key, 202, &lb), RS_L3_HIT);
  ASSERT(lb.e != NULL);
  ASSERT_MEM_EQ(lb.e->body[RS_ENC_IDENTITY].p, lb.e->body[RS_ENC_IDENTITY].len, e->body[RS_ENC_IDENTITY].p,
                e->body[RS_ENC_IDENTITY].len);
  ASSERT(e->body[RS_ENC_GZIP].p != NULL);
  ASSERT_MEM_EQ(lb.e->body[RS_ENC_GZIP].p, lb.e->body[RS_ENC_GZIP].len, e->body[RS_ENC_GZIP].p,
                e->body[RS_ENC_GZIP].len);              /* as built: nothing compressed again */
  ASSERT_MEM_EQ(lb.e->etag, lb.e->etag_len, e->etag, e->etag_len);
  ASSERT_EQ(lb.e->hash, 5);
  ASSERT_EQ(lb.e->epoch, 9);
  /* The store released a's lock: another key's lock is another story. */
  ASSERT_EQ(lookup(&b, "GET shop.example/other", 202, &lb), RS_L3_LEAD);
  rs_fleet_unlock(b.fl, "GET shop.example/other", 22, 202);
  spin(50);
  ASSERT_EQ(lookup(&a, "GET shop.example/other", 101, &la), RS_L3_LEAD);   /* unlocked: a may take it */
  /* A render of a page that a purge covered after it began is refused. */
  const char *key2 = "GET shop.example/product/7";
  ASSERT_EQ(lookup(&a, key2, 103, &la), RS_L3_LEAD);
  uint64_t begun = la.seq;
  ASSERT(purge(&b, RS_PURGE_TAG, "product:7", &a, &b) > begun);
  rs_entry_t *e2 = page(key2, "<p>old product 7</p>", 2);
  store(&a, e2, begun, 103);
  ASSERT_EQ(rs_fleet_loop_stats(a.fl)->stores_refused, 1);
  ASSERT_EQ(lookup(&b, key2, 204, &lb), RS_L3_LEAD);  /* not stored; a's lock released by the refusal */
  rs_entry_release(e2);
  rs_entry_release(e);
  if (la.e) rs_entry_release(la.e);
  if (lb.e) rs_entry_release(lb.e);
  inst_stop(&a);
  inst_stop(&b);
  spin(50);
}

static void test_purges_of_every_kind(void) {
  inst_t a, b;
  inst_start(&a, port);
  inst_start(&b, port);
  ASSERT(run_until(inst_ready, &a, 5000));
  ASSERT(run_until(inst_ready, &b, 5000));
  look_t l = { 0 };
  static const struct {
    rs_purge_by_t kind;
    const char *arg;
    bool covers;                 /* the page GET p.example/shop/1, tags catalog, product:7 */
  } cases[] = {
    { RS_PURGE_TAG, "catalog", true },      { RS_PURGE_TAG, "catalo", false },
    { RS_PURGE_TAG, "product:7", true },    { RS_PURGE_PREFIX, "GET p.example/shop/", true },
    { RS_PURGE_PREFIX, "GET p.example/shoe", false }, { RS_PURGE_KEY, "GET p.example/shop/1", true },
    { RS_PURGE_KEY, "GET p.example/shop/10", false }, { RS_PURGE_ALL, "", true },
  };
  const char *key = "GET p.example/shop/1";
  /* A soft purge keeps the page, stale: the first lookup gets it and the
   * lock (it refreshes it), the next gets it and waits on that refresh. */
  for (size_t j = 0; j < 2 * RS_ARRAY_SIZE(cases); j++) {
    size_t i = j % RS_ARRAY_SIZE(cases);
    bool soft = j >= RS_ARRAY_SIZE(cases);
    ASSERT_EQ(lookup(&a, key, 1, &l), RS_L3_LEAD);
    rs_entry_t *e = page(key, "<p>shop 1</p>", 2);
    store(&a, e, l.seq, 1);
    rs_entry_release(e);
    ASSERT_EQ(lookup(&b, key, 2, &l), RS_L3_HIT);
    ASSERT(rs_entry_fresh(l.e, rs_now_ms()));
    int na = a.npurges, nb = b.npurges;
    ASSERT(purge_ex(&a, cases[i].kind, cases[i].arg, soft, &a, &b) > 0);
    /* Both instances apply it to their own tiers, this one included. */
    ASSERT_EQ(a.npurges, na + 1);
    ASSERT_EQ(b.npurges, nb + 1);
    ASSERT_EQ(b.kinds[nb], cases[i].kind);
    ASSERT_EQ(b.softs[nb], soft);
    ASSERT_STR_EQ(b.args[nb], cases[i].arg);
    rs_l3_result_t want = !cases[i].covers ? RS_L3_HIT : soft ? RS_L3_STALE_LEAD : RS_L3_LEAD;
    if (lookup(&b, key, 2, &l) != want)
      TAP_FAIL("case %zu (%s, soft %d): lookup after purge %d != %d", i, cases[i].arg, soft, l.res, want);
    if (l.res == RS_L3_STALE_LEAD) {
      ASSERT(l.e != NULL && !rs_entry_fresh(l.e, rs_now_ms()) && rs_entry_servable(l.e, rs_now_ms()));
      ASSERT_EQ(lookup(&a, key, 3, &l), RS_L3_STALE_WAIT);   /* b refreshes it */
      ASSERT(l.e != NULL && !rs_entry_fresh(l.e, rs_now_ms()));
    }
    if (l.res == RS_L3_LEAD || l.res == RS_L3_STALE_WAIT) rs_fleet_unlock(b.fl, key, strlen(key), 2);
    purge(&a, RS_PURGE_KEY, key, &a, &b);              /* clean slate */
  }
  if (l.e) rs_entry_release(l.e);
  inst_stop(&a);
  inst_stop(&b);
  spin(50);
}

/* A deploy (cache.on_new_bundle): a page another bundle rendered is stale
 * for an instance on a new bundle ("stale": served stale, refreshed once),
 * absent ("purge": rendered again, the old page kept for instances still on
 * the old bundle), or a page ("keep": bundle 0). */
static void test_pages_of_another_bundle(void) {
  inst_t a, b;
  inst_start(&a, port);
  inst_start(&b, port);
  ASSERT(run_until(inst_ready, &a, 5000));
  ASSERT(run_until(inst_ready, &b, 5000));
  look_t l = { 0 };
  const char *key = "GET p.example/deploy";
  const uint64_t old_b = 0x1111, new_b = 0x2222;
  ASSERT_EQ(lookup_b(&a, key, 1, old_b, false, &l), RS_L3_LEAD);
  rs_entry_t *e = page(key, "<p>old bundle</p>", 0);
  e->bundle = old_b;
  store(&a, e, l.seq, 1);
  rs_entry_release(e);
  ASSERT_EQ(lookup_b(&a, key, 2, old_b, false, &l), RS_L3_HIT);   /* its own bundle's page */
  ASSERT_EQ(l.e->bundle, old_b);
  ASSERT_EQ(lookup_b(&b, key, 3, 0, false, &l), RS_L3_HIT);       /* "keep" */
  ASSERT_EQ(lookup_b(&b, key, 4, new_b, true, &l), RS_L3_LEAD);   /* "purge": a miss */
  ASSERT(l.e == NULL);
  rs_fleet_unlock(b.fl, key, strlen(key), 4);
  ASSERT_EQ(lookup_b(&b, key, 5, new_b, false, &l), RS_L3_STALE_LEAD);   /* "stale" */
  ASSERT(l.e != NULL && l.e->bundle == old_b && !rs_entry_fresh(l.e, rs_now_ms()));
  ASSERT_EQ(lookup_b(&a, key, 6, new_b, false, &l), RS_L3_STALE_WAIT);   /* b refreshes it */
  ASSERT_EQ(lookup_b(&a, key, 6, old_b, false, &l), RS_L3_HIT);          /* the old bundle's instances */
  e = page(key, "<p>new bundle</p>", 0);
  e->bundle = new_b;
  store(&b, e, l.seq, 5);
  rs_entry_release(e);
  ASSERT_EQ(lookup_b(&a, key, 7, new_b, false, &l), RS_L3_HIT);
  ASSERT_EQ(l.e->bundle, new_b);
  if (l.e) rs_entry_release(l.e);
  inst_stop(&a);
  inst_stop(&b);
  spin(50);
}

/* A KEY purge names a page's base: every named-header variant of it, and
 * a key hook's string on any host (rs_purge.h), in the tier too. */
static void test_key_purge_covers_variants(void) {
  inst_t a, b;
  inst_start(&a, port);
  inst_start(&b, port);
  ASSERT(run_until(inst_ready, &a, 5000));
  ASSERT(run_until(inst_ready, &b, 5000));
  look_t l = { 0 };
  static const struct {
    const char *page, *purge;
    bool covers;
  } cases[] = {
    { "GET v.example/p\naccept-language:de", "GET v.example/p", true },
    { "GET v.example/p", "GET v.example/p", true },
    { "GET v.example/pq\naccept-language:de", "GET v.example/p", false },
    { "~v.example promo", "promo", true },
    { "~w.example promo\nx-a:1", "promo", true },
    { "~v.example promo2", "promo", false },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(cases); i++) {
    const char *key = cases[i].page;
    ASSERT_EQ(lookup(&a, key, 1, &l), RS_L3_LEAD);
    rs_entry_t *e = page(key, "<p>variant</p>", 0);
    store(&a, e, l.seq, 1);
    rs_entry_release(e);
    ASSERT_EQ(lookup(&b, key, 2, &l), RS_L3_HIT);
    ASSERT(purge(&a, RS_PURGE_KEY, cases[i].purge, &a, &b) > 0);
    rs_l3_result_t want = cases[i].covers ? RS_L3_LEAD : RS_L3_HIT;
    if (lookup(&b, key, 2, &l) != want) TAP_FAIL("case %zu (%s): lookup after purge != %d", i, key, want);
    if (l.res == RS_L3_LEAD) rs_fleet_unlock(b.fl, key, strlen(key), 2);
    purge(&a, RS_PURGE_ALL, "", &a, &b);               /* clean slate */
  }
  if (l.e) rs_entry_release(l.e);
  inst_stop(&a);
  inst_stop(&b);
  spin(50);
}

/* A raw client to kill subscriber connections and trim the log. */
static void raw_cb(rs_redis_t *r, void *data, const redisReply *reply, int status) {
  (void)r, (void)reply, (void)status;
  (*(int *)data)++;
}
static bool int_one(void *arg) { return *(int *)arg > 0; }
static bool raw_ready(void *arg) { return rs_redis_ready(arg); }

static void raw(rs_redis_t *r, int argc, const char **argv) {
  int n = 0;
  rs_redis_cmd(r, raw_cb, &n, 0, argc, argv, NULL);
  run_until(int_one, &n, 5000);
}

static void test_missed_purges_replayed(void) {
  inst_t a, b;
  inst_start(&a, port);
  inst_start_backoff(&b, port, 300);            /* b reconnects after the purges below */
  ASSERT(run_until(inst_ready, &a, 5000));
  ASSERT(run_until(inst_ready, &b, 5000));
  rs_redis_opts_t ro = { .host = "127.0.0.1", .port = port, .timeout_ms = 1000 };
  rs_redis_t *r = rs_redis_new(&loop, &ro);
  ASSERT(run_until(raw_ready, r, 5000));
  /* Drop every subscriber connection and purge at once, many times: the
   * messages sent while b's subscriber reconnects are heard by nobody, and
   * the log brings them back, in order, each once. */
  int before = b.npurges;
  uint64_t first = 0, last = 0;
  for (int round = 0; round < 5; round++) {
    const char *kill_pubsub[] = { "CLIENT", "KILL", "TYPE", "pubsub" };
    raw(r, 4, kill_pubsub);
    for (int i = 0; i < 4; i++) {
      purged_t p = { 0 };
      char tag[16];
      snprintf(tag, sizeof(tag), "t%d", round * 4 + i);
      rs_fleet_purge(a.fl, RS_PURGE_TAG, tag, strlen(tag), false, on_purged, &p);
      ASSERT(run_until(purged_done, &p, 5000));
      ASSERT(p.seq > 0);
      if (!first) first = p.seq;
      last = p.seq;
    }
  }
  applied_t wb = { &b, last };
  ASSERT(run_until(applied_done, &wb, 10000));
  ASSERT_EQ(b.npurges - before, 20);
  for (int i = 0; i < 20; i++) {
    char tag[16];
    snprintf(tag, sizeof(tag), "t%d", i);
    ASSERT_STR_EQ(b.args[before + i], tag);
  }
  ASSERT(rs_fleet_stats(b.f)->replays > 1);
  ASSERT_EQ(rs_fleet_stats(b.f)->full_purges, 0);
  /* The log trimmed past what b missed: b purges everything it holds. */
  const char *kill_pubsub[] = { "CLIENT", "KILL", "TYPE", "pubsub" };
  raw(r, 4, kill_pubsub);
  uint64_t seq = purge(&a, RS_PURGE_TAG, "x", &a, &a);
  ASSERT(seq > 0);
  const char *trim[] = { "XTRIM", "t:plog", "MAXLEN", "0" };
  raw(r, 4, trim);
  applied_t wb2 = { &b, seq };
  ASSERT(rs_fleet_applied_seq(b.f) < seq);       /* b was away */
  ASSERT(run_until(applied_done, &wb2, 10000));
  ASSERT_EQ(rs_fleet_stats(b.f)->full_purges, 1);
  ASSERT_EQ(b.kinds[b.npurges - 1], RS_PURGE_ALL);
  rs_redis_close(r);
  inst_stop(&a);
  inst_stop(&b);
  spin(50);
}

/* One command's integer answer (an integer, or a number in a string; -100
 * for nil, -101 for anything else). */
static void rawi_cb(rs_redis_t *r, void *data, const redisReply *reply, int status) {
  (void)r;
  long long *v = data;
  if (status != 0) *v = -101;
  else if (reply->type == REDIS_REPLY_INTEGER) *v = reply->integer;
  else if (reply->type == REDIS_REPLY_STRING) *v = strtoll(reply->str, NULL, 10);
  else if (reply->type == REDIS_REPLY_NIL) *v = -100;
  else *v = -101;
}
static bool rawi_done(void *arg) { return *(long long *)arg != -102; }
static long long rawi(rs_redis_t *r, const char *cmd, const char *key) {
  long long v = -102;
  const char *argv[] = { cmd, key };
  rs_redis_cmd(r, rawi_cb, &v, 0, 2, argv, NULL);
  run_until(rawi_done, &v, 5000);
  return v;
}

/* The purge markers expire once no page they cover can be in the tier:
 * lock_ms after the last page stored expires (Plife); a tag, prefix or all
 * marker is a field of a hash that its index prunes, and the hash expires
 * with its last field. */
static void test_purge_markers_expire(void) {
  rs_redis_opts_t ro = { .host = "127.0.0.1", .port = port, .timeout_ms = 1000 };
  rs_redis_t *r = rs_redis_new(&loop, &ro);
  ASSERT(run_until(raw_ready, r, 5000));
  inst_t a;
  /* A page that lives 70 s: markers written after it live as long, and a lock's time more. */
  inst_start_opts(&a, port, 20, "x:", 5000);
  ASSERT(run_until(inst_ready, &a, 5000));
  look_t l = { 0 };
  const char *key = "GET m.example/shop/1";
  ASSERT_EQ(lookup(&a, key, 1, &l), RS_L3_LEAD);
  rs_entry_t *e = page(key, "<p>shop 1</p>", 2);
  store(&a, e, l.seq, 1);
  rs_entry_release(e);
  ASSERT_EQ(rs_fleet_loop_stats(a.fl)->stores, 1);
  char bkey[64];
  snprintf(bkey, sizeof(bkey), "x:{%016llx}:b", (unsigned long long)XXH3_64bits(key, strlen(key)));
  long long page_ttl_ms = rawi(r, "PTTL", bkey), life = rawi(r, "PTTL", "x:life");
  ASSERT(page_ttl_ms > 60000 && page_ttl_ms <= 70000);
  ASSERT(life >= page_ttl_ms - 50 && life <= 70000);
  static const struct {
    rs_purge_by_t kind;
    const char *arg, *hash, *index;
  } marks[] = {
    { RS_PURGE_TAG, "catalog", "x:te", "x:te:x" },
    { RS_PURGE_PREFIX, "GET m.example/shop/", "x:tp", "x:tp:x" },
    { RS_PURGE_ALL, "", "x:te", "x:te:x" },
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(marks); i++) {
    for (int soft = 0; soft < 2; soft++) {
      /* the page again (soft purges keep it; the others take it away) */
      if (lookup(&a, key, 1, &l) != RS_L3_HIT) {
        ASSERT(l.res == RS_L3_LEAD || l.res == RS_L3_STALE_LEAD);
        e = page(key, "<p>shop 1</p>", 2);
        store(&a, e, l.seq, 1);
        rs_entry_release(e);
        ASSERT_EQ(lookup(&a, key, 1, &l), RS_L3_HIT);
      }
      page_ttl_ms = rawi(r, "PTTL", bkey);
      ASSERT(purge_ex(&a, marks[i].kind, marks[i].arg, soft, &a, &a) > 0);
      char h[16], x[16];
      snprintf(h, sizeof(h), "%s", marks[i].hash);
      snprintf(x, sizeof(x), "%s", marks[i].index);
      if (soft) h[2] = 's', x[2] = 's';
      long long th = rawi(r, "PTTL", h), tx = rawi(r, "PTTL", x);
      if (!(th >= page_ttl_ms && th <= 70000 + 5000 && tx <= th && tx >= th - 100))   /* read a moment apart */
        TAP_FAIL("%s (soft %d): PTTL %s %lld, %s %lld: want within [%lld, 75000]", marks[i].arg, soft, h, th, x,
                 tx, page_ttl_ms);
      /* while it lives, the page stored before it is dead (or stale) */
      rs_l3_result_t want = soft ? RS_L3_STALE_LEAD : RS_L3_LEAD;
      if (lookup(&a, key, 1, &l) != want) TAP_FAIL("%s (soft %d): lookup %d != %d", marks[i].arg, soft, l.res, want);
      rs_fleet_unlock(a.fl, key, strlen(key), 1);
    }
  }
  /* A KEY marker is a key of its own, with the same expiry. */
  ASSERT(purge(&a, RS_PURGE_KEY, key, &a, &a) > 0);
  char kkey[64];
  snprintf(kkey, sizeof(kkey), "x:{%016llx}:k", (unsigned long long)XXH3_64bits(key, strlen(key)));
  long long tk = rawi(r, "PTTL", kkey);
  ASSERT(tk > 60000 && tk <= 75000);
  if (l.e) rs_entry_release(l.e);
  l.e = NULL;
  inst_stop(&a);
  spin(50);

  /* No page in the tier (prefix y:): a marker lives lock_ms (300 ms). */
  inst_start_opts(&a, port, 20, "y:", 300);
  ASSERT(run_until(inst_ready, &a, 5000));
  ASSERT(purge(&a, RS_PURGE_TAG, "old", &a, &a) > 0);
  long long t = rawi(r, "PTTL", "y:te");
  ASSERT(t > 0 && t <= 300);
  ASSERT_EQ(rawi(r, "HLEN", "y:te"), 1);
  spin(400);
  ASSERT_EQ(rawi(r, "EXISTS", "y:te"), 0);           /* gone with its last field */
  ASSERT_EQ(rawi(r, "EXISTS", "y:te:x"), 0);
  /* A purge prunes the fields past their time. */
  ASSERT(purge(&a, RS_PURGE_TAG, "a", &a, &a) > 0);
  ASSERT(purge(&a, RS_PURGE_PREFIX, "GET y/", &a, &a) > 0);
  spin(200);
  ASSERT(purge(&a, RS_PURGE_TAG, "b", &a, &a) > 0);
  ASSERT_EQ(rawi(r, "HLEN", "y:te"), 2);
  spin(200);                                          /* "a" past its time, "b" not */
  ASSERT(purge(&a, RS_PURGE_TAG, "c", &a, &a) > 0);
  ASSERT_EQ(rawi(r, "HLEN", "y:te"), 2);
  ASSERT_EQ(rawi(r, "ZCARD", "y:te:x"), 2);
  ASSERT_EQ(rawi(r, "HLEN", "y:tp"), 0);              /* its own expiry */

  /* A render that outlived its lock, with a purge since it began: its
   * purge's markers may be gone, so the tier refuses it; with no purge
   * since, it is stored. */
  const char *k2 = "GET y/late";
  ASSERT_EQ(lookup(&a, k2, 7, &l), RS_L3_LEAD);
  uint64_t begun = l.seq;
  spin(400);                                          /* the lock (300 ms) is gone */
  e = page(k2, "<p>late</p>", 0);
  store(&a, e, begun, 7);
  ASSERT_EQ(rs_fleet_loop_stats(a.fl)->stores, 1);    /* nothing purged since it began */
  ASSERT_EQ(lookup(&a, k2, 8, &l), RS_L3_HIT);
  ASSERT_EQ(lookup(&a, "GET y/late2", 9, &l), RS_L3_LEAD);
  begun = l.seq;
  spin(400);
  ASSERT(purge(&a, RS_PURGE_TAG, "unrelated", &a, &a) > begun);
  rs_entry_release(e);
  e = page("GET y/late2", "<p>late 2</p>", 0);
  store(&a, e, begun, 9);
  ASSERT_EQ(rs_fleet_loop_stats(a.fl)->stores_refused, 1);
  rs_entry_release(e);
  if (l.e) rs_entry_release(l.e);
  rs_redis_close(r);
  inst_stop(&a);
  spin(50);
}

/* cache.prefresh across the fleet: a page keeps its refresh-ahead time in
 * the tier; before it, a hit carries it (as the page rendered here has
 * it); past it, the first lookup takes the lock and refreshes the page
 * (REFRESH_LEAD, the page with it), the others get the page with none. */
static void test_refresh_ahead_for_the_fleet(void) {
  inst_t a, b;
  inst_start(&a, port);
  inst_start(&b, port);
  ASSERT(run_until(inst_ready, &a, 5000));
  ASSERT(run_until(inst_ready, &b, 5000));
  look_t l = { 0 };
  const char *key = "GET r.example/ahead";
  ASSERT_EQ(lookup(&a, key, 1, &l), RS_L3_LEAD);
  rs_entry_t *e = page(key, "<p>ahead</p>", 0);
  e->refresh_ms = e->created_ms + 300;            /* as cache.prefresh sets it */
  store(&a, e, l.seq, 1);
  ASSERT_EQ(rs_fleet_loop_stats(a.fl)->stores, 1);
  ASSERT_EQ(lookup(&b, key, 2, &l), RS_L3_HIT);
  uint64_t now = rs_now_ms();
  ASSERT(l.e->refresh_ms > now && l.e->refresh_ms <= e->refresh_ms + 50);
  spin(400);
  ASSERT_EQ(lookup(&b, key, 2, &l), RS_L3_REFRESH_LEAD);
  ASSERT(l.e != NULL && l.e->refresh_ms == 0 && rs_entry_fresh(l.e, rs_now_ms()));
  uint64_t rseq = l.seq;                          /* the refresh's start */
  ASSERT_EQ(lookup(&a, key, 3, &l), RS_L3_HIT);     /* b refreshes it */
  ASSERT(l.e != NULL && l.e->refresh_ms == 0);
  ASSERT_EQ(rs_fleet_loop_stats(b.fl)->refreshes, 1);
  /* b's new page (due later) ends it: the next hit has its time again */
  rs_entry_t *e2 = page(key, "<p>ahead 2</p>", 0);
  e2->refresh_ms = e2->created_ms + 5000;
  store(&b, e2, rseq, 2);
  ASSERT_EQ(rs_fleet_loop_stats(b.fl)->stores, 1);
  ASSERT_EQ(lookup(&a, key, 3, &l), RS_L3_HIT);
  ASSERT(l.e->refresh_ms > rs_now_ms() + 4000);
  ASSERT_MEM_EQ(l.e->body[RS_ENC_IDENTITY].p, l.e->body[RS_ENC_IDENTITY].len, "<p>ahead 2</p>", 14);
  rs_entry_release(e);
  rs_entry_release(e2);
  if (l.e) rs_entry_release(l.e);
  inst_stop(&a);
  inst_stop(&b);
  spin(50);
}

static void test_tier_down_is_a_miss(void) {
  redis_stop(pid);
  pid = -1;
  inst_t a;
  inst_start(&a, port);
  spin(200);
  look_t l = { 0 };
  ASSERT_EQ(lookup(&a, "GET d/x", 1, &l), RS_L3_MISS);   /* at once, from the next turn */
  rs_entry_t *e = page("GET d/x", "<p>x</p>", 0);
  rs_fleet_store(a.fl, e, 0, 1);                          /* a no-op */
  rs_entry_release(e);
  purged_t p = { 0 };
  rs_fleet_purge(a.fl, RS_PURGE_ALL, "", 0, false, on_purged, &p);
  ASSERT_EQ(p.n, 0);
  ASSERT(run_until(purged_done, &p, 5000));
  ASSERT_EQ(p.seq, 0);                                    /* the caller learns the fleet did not take it */
  inst_stop(&a);
  spin(50);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  if (mkdtemp(tmpdir) == NULL) return 1;
  uv_loop_init(&loop);
  port = free_port();
  pid = redis_start(port, NULL);
  if (pid <= 0) {
    fprintf(stderr, "# cannot start redis-server (scripts/setup installs it)\n");
    return 1;
  }
  RS_TEST(test_one_render_per_page);
  RS_TEST(test_purges_of_every_kind);
  RS_TEST(test_key_purge_covers_variants);
  RS_TEST(test_pages_of_another_bundle);
  RS_TEST(test_missed_purges_replayed);
  RS_TEST(test_purge_markers_expire);
  RS_TEST(test_refresh_ahead_for_the_fleet);
  RS_TEST(test_tier_down_is_a_miss);
  redis_stop(pid);
  for (int i = 0; i < 100 && uv_run(&loop, UV_RUN_NOWAIT) != 0; i++) usleep(1000);
  uv_loop_close(&loop);
  rmdir(tmpdir);
  RS_TEST_DONE();
}
