/* core/fleet/rs_fleet.c — see rs_fleet.h. */
#include "rs_fleet.h"
#include "rs_fleet_int.h"

#include "rs_blob.h"
#include "rs_key.h"
#include "rs_log.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ------------------------------------------------------------ scripts */

/* The purge check shared by lookup and store: is a page rendered from
 * sequence s, with these tags and this key, covered by a later purge?
 * KEYS: te, tp, k (the key's own purge marker). */
#define RS__LUA_GONE                                                                      \
  "local function gone(s, tags, key, te, tp, km, kb)\n"                                   \
  "  if tonumber(redis.call('HGET', te, '*') or '0') > s then return true end\n"          \
  "  if tonumber(redis.call('GET', km) or '0') > s then return true end\n"                \
  "  if tonumber(redis.call('GET', kb) or '0') > s then return true end\n"                \
  "  for tag in string.gmatch(tags, '[^\\n]+') do\n"                                      \
  "    local v = redis.call('HGET', te, 't:' .. tag)\n"                                   \
  "    if v and tonumber(v) > s then return true end\n"                                   \
  "  end\n"                                                                               \
  "  local p = redis.call('HGETALL', tp)\n"                                               \
  "  for i = 1, #p, 2 do\n"                                                               \
  "    if tonumber(p[i + 1]) > s and string.sub(key, 1, #p[i]) == p[i] then return true end\n" \
  "  end\n"                                                                               \
  "  return false\n"                                                                      \
  "end\n"

/* KEYS m l te tp seq k b kbase se sp sk skbase; ARGV rid lock_px key
 * now_unix_ms bundle on_other. Returns {1, s, r} when the page is there,
 * alive and fresh, {7, seq, r} when it is also past its refresh-ahead time
 * 'r' (cache.prefresh) and this render took the lock to refresh it ahead
 * ({1, seq, r} when another holds it), {2, seq} when this render took the
 * lock, {3, seq} when another holds it; a page that is there but stale (past its fresh time
 * 'f', soft-purged since its render began: the markers se sp sk skbase, as
 * te tp k kbase; or rendered by a bundle 'v' other than bundle, when
 * on_other is 's') is {4, seq} when this render took the lock to refresh
 * it, {5, seq} when another holds it. Another bundle's page with on_other
 * 'p' is absent for this one (kept: instances still on that bundle use
 * it). A dead page is deleted on the way. ARGV[7]: see lock(). */
static const char RS__LUA_LOOKUP[] =
  RS__LUA_GONE
  /* ARGV[7]: when the asker gives up waiting, on this server's clock (0:
   * unknown). A lookup that runs later (Redis was paused, or slow) must not
   * take a lock nobody will render under: it answers {6, seq}. */
  "local function lock(lead, wait, cur)\n"
  "  local dl = tonumber(ARGV[7])\n"
  "  if dl > 0 then\n"
  "    local t = redis.call('TIME')\n"
  "    if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > dl then return {6, cur} end\n"
  "  end\n"
  "  if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {lead, cur} end\n"
  "  return {wait, cur}\n"
  "end\n"
  "local cur = tonumber(redis.call('GET', KEYS[5]) or '0')\n"
  "local m = redis.call('HMGET', KEYS[1], 's', 't', 'f', 'v', 'r')\n"
  "if m[1] then\n"
  "  local s = tonumber(m[1])\n"
  "  if gone(s, m[2] or '', ARGV[3], KEYS[3], KEYS[4], KEYS[6], KEYS[8]) then\n"
  "    redis.call('DEL', KEYS[1], KEYS[7])\n"
  "  else\n"
  "    local other = ARGV[5] ~= '' and (m[4] or '') ~= '' and m[4] ~= ARGV[5]\n"
  "    if not (other and ARGV[6] == 'p') then\n"
  "      if not other and tonumber(m[3] or '0') > tonumber(ARGV[4]) and\n"
  "         not gone(s, m[2] or '', ARGV[3], KEYS[9], KEYS[10], KEYS[11], KEYS[12]) then\n"
  "        local r = tonumber(m[5] or '0')\n"
  "        local res = {1, s}\n"
  "        if r > 0 and tonumber(ARGV[4]) >= r then res = lock(7, 1, cur) end\n"
  "        res[3] = r\n"
  "        return res\n"
  "      end\n"
  "      return lock(4, 5, cur)\n"
  "    end\n"
  "  end\n"
  "end\n"
  "return lock(2, 3, cur)\n";

/* KEYS m b l te tp k kbase seq life; ARGV start_seq tags blob px rid key
 * fresh_until_unix_ms bundle refresh_at_unix_ms (0: none). 1 stored, 0 refused (a purge covers it, or
 * came after it began while its render outlived its lock: the purge's
 * markers may be gone, see RS__LUA_PURGE). Keeps life (the latest expiry of
 * a page in the tier, unix ms on this server's clock) up to date. Releases
 * the lock when rid holds it. */
static const char RS__LUA_STORE[] =
  RS__LUA_GONE
  "local s = tonumber(ARGV[1])\n"
  "local ok = not gone(s, ARGV[2], ARGV[6], KEYS[4], KEYS[5], KEYS[6], KEYS[7])\n"
  "if ok and redis.call('GET', KEYS[3]) ~= ARGV[5] and tonumber(redis.call('GET', KEYS[8]) or '0') > s then\n"
  "  ok = false\n"
  "end\n"
  "if ok then\n"
  "  local old = tonumber(redis.call('HGET', KEYS[1], 's') or '-1')\n"
  "  if old <= s then\n"
  "    redis.call('DEL', KEYS[1])\n"
  "    redis.call('HSET', KEYS[1], 's', ARGV[1], 't', ARGV[2], 'f', ARGV[7], 'v', ARGV[8], 'r', ARGV[9])\n"
  "    redis.call('PEXPIRE', KEYS[1], ARGV[4])\n"
  "    redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])\n"
  "    local t = redis.call('TIME')\n"
  "    local e = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[4])\n"
  "    if e > tonumber(redis.call('GET', KEYS[9]) or '0') then\n"
  "      redis.call('SET', KEYS[9], string.format('%d', e), 'PXAT', string.format('%d', e))\n"
  "    end\n"
  "  end\n"
  "end\n"
  "if redis.call('GET', KEYS[3]) == ARGV[5] then redis.call('DEL', KEYS[3]) end\n"
  "return ok and 1 or 0\n";

/* KEYS l; ARGV rid. */
static const char RS__LUA_UNLOCK[] =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
  "return 0\n";

/* KEYS seq te tp plog m b k khook se sp sk skhook life tex tpx sex spx;
 * ARGV kind arg channel slack_ms plog_max. A KEY purge marks both the key
 * and its form as a key hook's string. A soft purge (kind "soft-...") sets
 * the soft markers (se sp sk skhook, as te tp k khook) and deletes nothing:
 * the pages it covers stay, stale. Returns the purge's sequence.
 *
 * A marker matters while a page stored before it may still be in the tier
 * (until life: the latest expiry of a page stored, RS__LUA_STORE) or a
 * render that began before it may still store (a render holding its lock;
 * one that outlived it is refused when a purge came meanwhile): it expires
 * slack_ms (the lock's time) after life. A KEY marker is a key of its own
 * with that expiry; a tag, prefix or all marker is a field of a hash (te
 * tp se sp), with its expiry as its score in the hash's index (tex tpx sex
 * spx, a sorted set): each purge that writes a hash deletes the fields past
 * their time and sets the hash's expiry to its last field's. */
static const char RS__LUA_PURGE[] =
  "local seq = redis.call('INCR', KEYS[1])\n"
  "local kind = ARGV[1]\n"
  "local te, tp, k, kh, tex, tpx = KEYS[2], KEYS[3], KEYS[7], KEYS[8], KEYS[14], KEYS[15]\n"
  "local soft = string.sub(kind, 1, 5) == 'soft-'\n"
  "if soft then\n"
  "  kind = string.sub(kind, 6)\n"
  "  te, tp, k, kh, tex, tpx = KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[16], KEYS[17]\n"
  "end\n"
  "local t = redis.call('TIME')\n"
  "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
  "local life = tonumber(redis.call('GET', KEYS[13]) or '0')\n"
  "local px = math.max(life - now, 0) + tonumber(ARGV[4])\n"
  "local function mark(h, x, field)\n"
  "  redis.call('HSET', h, field, seq)\n"
  "  redis.call('ZADD', x, 'GT', now + px, field)\n"
  "  local old = redis.call('ZRANGEBYSCORE', x, '-inf', now, 'LIMIT', 0, 1000)\n"
  "  if #old > 0 then\n"
  "    redis.call('HDEL', h, unpack(old))\n"
  "    redis.call('ZREM', x, unpack(old))\n"
  "  end\n"
  "  local last = redis.call('ZRANGE', x, -1, -1, 'WITHSCORES')\n"
  "  local at = string.format('%d', tonumber(last[2]))\n"
  "  redis.call('PEXPIREAT', h, at)\n"
  "  redis.call('PEXPIREAT', x, at)\n"
  "end\n"
  "local pxs = string.format('%d', px)\n"
  "if kind == 'all' then mark(te, tex, '*')\n"
  "elseif kind == 'tag' then mark(te, tex, 't:' .. ARGV[2])\n"
  "elseif kind == 'prefix' then mark(tp, tpx, ARGV[2])\n"
  "else\n"
  "  if not soft then redis.call('DEL', KEYS[5], KEYS[6]) end\n"
  "  redis.call('SET', k, seq, 'PX', pxs)\n"
  "  redis.call('SET', kh, seq, 'PX', pxs)\n"
  "end\n"
  "redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], seq .. '-1', 'k', ARGV[1], 'a', ARGV[2])\n"
  "redis.call('PUBLISH', ARGV[3], seq .. ' ' .. ARGV[1] .. ' ' .. ARGV[2])\n"
  "return seq\n";

enum { RS__S_LOOKUP, RS__S_STORE, RS__S_UNLOCK, RS__S_PURGE, RS__S_MAX };
static const char *const RS__SCRIPTS[RS__S_MAX] = { RS__LUA_LOOKUP, RS__LUA_STORE, RS__LUA_UNLOCK,
                                                    RS__LUA_PURGE };

/* The fleet's names of the purges it carries (rs_purge_by_t); a soft
 * purge's is "soft-" and that name. */
const char *rs_fleet__kind(rs_purge_by_t by, bool soft) {
  switch (by) {
  case RS_PURGE_KEY: return soft ? "soft-key" : "key";
  case RS_PURGE_PREFIX: return soft ? "soft-prefix" : "prefix";
  case RS_PURGE_TAG: return soft ? "soft-tag" : "tag";
  default: return soft ? "soft-all" : "all";
  }
}

/* ------------------------------------------------------------ state */


struct rs_fleet_loop_s {
  rs_fleet_t *f;
  uv_loop_t *loop;
  rs_redis_t *r;
  char sha[RS__S_MAX][41];
  int loaded;                    /* scripts loaded on this connection */
  int64_t clock_off;             /* Redis's clock - ours (ms), from TIME on connecting */
  uint64_t clock_err;            /* its uncertainty: half the TIME round trip, ms */
  bool clock_known, clock_asked;
  uint64_t conn;                 /* connection count, to drop stale SCRIPT LOADs */
  uv_timer_t later;              /* answers that must not run inside a call */
  struct rs__lookup_s *later_head;
  rs_fleet_stats_t stats;
  bool closing;
};

typedef struct rs__lookup_s {
  struct rs__lookup_s *next;     /* on fl->later */
  rs_fleet_loop_t *fl;
  rs_l3_cb cb;
  void *data;
  char *key;
  size_t klen;
  uint64_t hash, epoch, rid, seq;
  uint64_t bundle;               /* the page's bundle wanted (0: any) */
  bool other_is_miss;            /* another bundle's page is a miss (else stale) */
  int script;                    /* 1 HIT, 2 LEAD, 3 WAIT, 4 STALE_LEAD,
                                    5 STALE_WAIT, 6 too late (no lock), 7
                                    REFRESH_LEAD, 0 no answer */
  uint64_t refresh_unix;         /* the page's refresh-ahead time ('r'), 0: none */
  rs_l3_result_t res;            /* the answer, when deferred */
  int refs;                      /* commands in flight + a deferred answer */
  bool answered;
} rs__lookup_t;

static void rs__lookup_unref(rs__lookup_t *q) {
  if (--q->refs > 0) return;
  free(q->key);
  free(q);
}

/* P{h}:x for key. x: m b l k as rs_fleet.h lists; s the soft KEY marker. */
static char *rs__pkey(const char *prefix, const char *key, size_t klen, char x) {
  size_t pl = strlen(prefix);
  char *s = rs_xmalloc(pl + 24);
  snprintf(s, pl + 24, "%s{%016llx}:%c", prefix, (unsigned long long)XXH3_64bits(key, klen), x);
  return s;
}

/* The page's base, as KEY purges name it (rs_fleet.h, rs_purge.h): its
 * key without the named headers' part, and a key hook's string without
 * its "~host " namespace. */
static char *rs__pkey_base(const char *prefix, const char *key, size_t klen, char x) {
  const char *b = key, *end = key + klen;
  if (klen > 0 && key[0] == '~') {
    const char *sp = memchr(key, ' ', klen);
    if (sp != NULL) b = sp + 1;
  }
  const char *nl = memchr(b, '\n', (size_t)(end - b));
  return rs__pkey(prefix, b, (size_t)((nl ? nl : end) - b), x);
}

/* A bundle id as the tier keeps it ('v' of P{h}:m): hex, "" for none. */
static void rs__bundle_str(char *buf, size_t n, uint64_t bundle) {
  if (bundle == 0) buf[0] = 0;
  else snprintf(buf, n, "%016llx", (unsigned long long)bundle);
}

static char *rs__cat(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 1;
  char *s = rs_xmalloc(n);
  snprintf(s, n, "%s%s", a, b);
  return s;
}

/* ------------------------------------------------------------ deferred answers */

static void rs__later_run(uv_timer_t *t) {
  rs_fleet_loop_t *fl = t->data;
  rs__lookup_t *q = fl->later_head;
  fl->later_head = NULL;
  while (q != NULL) {
    rs__lookup_t *next = q->next;
    q->cb(q->data, q->res, NULL, q->seq);
    rs__lookup_unref(q);
    q = next;
  }
}

/* Answer q from the loop's next turn (never inside rs_fleet_lookup). */
static void rs__answer_later(rs__lookup_t *q, rs_l3_result_t res) {
  rs_fleet_loop_t *fl = q->fl;
  q->answered = true;
  q->refs++;
  q->res = res;
  q->next = fl->later_head;
  fl->later_head = q;
  uv_timer_start(&fl->later, rs__later_run, 0, 0);
}

/* ------------------------------------------------------------ scripts per connection */

static void rs__ignore(rs_redis_t *r, void *data, const redisReply *reply, int status) {
  (void)r, (void)data, (void)reply, (void)status;
}

typedef struct {
  rs_fleet_loop_t *fl;
  uint64_t conn;
  int which;
} rs__load_t;

static void rs__loaded(rs_redis_t *r, void *data, const redisReply *reply, int status) {
  (void)r;
  rs__load_t *l = data;
  rs_fleet_loop_t *fl = l->fl;
  if (status == 0 && reply->type == REDIS_REPLY_STRING && reply->len == 40 && l->conn == fl->conn) {
    memcpy(fl->sha[l->which], reply->str, 40);
    fl->sha[l->which][40] = 0;
    fl->loaded++;
  } else if (status == 0 && reply->type == REDIS_REPLY_ERROR) {
    rs_log_error("redis: SCRIPT LOAD: %.*s", (int)reply->len, reply->str);
  }
  free(l);
}

static void rs__load_scripts(rs_fleet_loop_t *fl) {
  fl->loaded = 0;
  fl->conn++;
  for (int i = 0; i < RS__S_MAX; i++) {
    rs__load_t *l = rs_xmalloc(sizeof(*l));
    *l = (rs__load_t){ fl, fl->conn, i };
    const char *argv[3] = { "SCRIPT", "LOAD", RS__SCRIPTS[i] };
    if (rs_redis_cmd(fl->r, rs__loaded, l, fl->f->o.write_timeout_ms, 3, argv, NULL) < 0) free(l);
  }
}

/* Redis's clock against ours, measured on each connection (TIME), so a
 * lookup can tell Redis when its asker stops waiting (RS__LUA_LOOKUP). */
typedef struct {
  rs_fleet_loop_t *fl;
  uint64_t conn, sent_ms;
} rs__clock_t;

static void rs__clock_read(rs_redis_t *r, void *data, const redisReply *reply, int status) {
  (void)r;
  rs__clock_t *c = data;
  rs_fleet_loop_t *fl = c->fl;
  uint64_t now = rs_blob_now_unix_ms();
  if (status == 0 && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
      reply->element[0]->type == REDIS_REPLY_STRING && reply->element[1]->type == REDIS_REPLY_STRING &&
      c->conn == fl->conn && now >= c->sent_ms && now - c->sent_ms <= 100) {
    uint64_t theirs = strtoull(reply->element[0]->str, NULL, 10) * 1000 + strtoull(reply->element[1]->str, NULL, 10) / 1000;
    fl->clock_off = (int64_t)theirs - (int64_t)(c->sent_ms + (now - c->sent_ms) / 2);
    fl->clock_err = (now - c->sent_ms) / 2 + 1;
    fl->clock_known = true;
  }
  if (c->conn == fl->conn) fl->clock_asked = false;   /* unknown still: asked again by the next lookup */
  free(c);
}

static void rs__clock_ask(rs_fleet_loop_t *fl) {
  rs__clock_t *c = rs_xmalloc(sizeof(*c));
  *c = (rs__clock_t){ fl, fl->conn, rs_blob_now_unix_ms() };
  const char *argv[] = { "TIME" };
  if (rs_redis_cmd(fl->r, rs__clock_read, c, fl->f->o.write_timeout_ms, 1, argv, NULL) < 0) free(c);
  else fl->clock_asked = true;
}

static void rs__loop_ready(rs_redis_t *r, void *data) {
  rs_fleet_loop_t *fl = data;
  (void)r;
  rs__load_scripts(fl);
  fl->clock_known = false;
  rs__clock_ask(fl);
}

/* A NOSCRIPT error (Redis restarted or SCRIPT FLUSH): load them again. */
static bool rs__noscript(rs_fleet_loop_t *fl, const redisReply *reply) {
  if (reply == NULL || reply->type != REDIS_REPLY_ERROR || strncmp(reply->str, "NOSCRIPT", 8) != 0) return false;
  if (fl->loaded == RS__S_MAX) rs__load_scripts(fl);
  return true;
}

/* ------------------------------------------------------------ lookups */

static void rs__lookup_script(rs_redis_t *r, void *data, const redisReply *reply, int status) {
  (void)r;
  rs__lookup_t *q = data;
  if (status == 0 && reply->type == REDIS_REPLY_ARRAY && (reply->elements == 2 || reply->elements == 3) &&
      reply->element[0]->type == REDIS_REPLY_INTEGER && reply->element[1]->type == REDIS_REPLY_INTEGER) {
    q->script = (int)reply->element[0]->integer;
    q->seq = (uint64_t)reply->element[1]->integer;
    if (reply->elements == 3 && reply->element[2]->type == REDIS_REPLY_INTEGER && reply->element[2]->integer > 0)
      q->refresh_unix = (uint64_t)reply->element[2]->integer;
  } else if (status == 0) {
    if (!rs__noscript(q->fl, reply) && reply->type == REDIS_REPLY_ERROR)
      rs_log_warn("redis: lookup: %.*s", (int)reply->len, reply->str);
    q->fl->stats.errors++;
  }
  rs__lookup_unref(q);
}

static void rs__lookup_body(rs_redis_t *r, void *data, const redisReply *reply, int status) {
  (void)r;
  rs__lookup_t *q = data;
  rs_fleet_loop_t *fl = q->fl;
  rs_l3_result_t res = RS_L3_MISS;
  rs_entry_t *e = NULL;
  if (q->answered) {                             /* cannot happen: both commands went out */
    rs__lookup_unref(q);
    return;
  }
  q->answered = true;
  if (status != 0) fl->stats.errors++;
  if (status == 0 && reply->type == REDIS_REPLY_STRING && q->script != 0) {
    /* A page is there (alive: the script deleted a dead one before this GET
     * ran), even when the script saw none: a store landed in between. */
    rs_blob_status_t s = rs_blob_decode(reply->str, reply->len, q->key, q->klen, q->hash, q->epoch,
                                        rs_blob_now_unix_ms(), &e, NULL);
    if (s == RS_BLOB_OK && q->bundle != 0 && e->bundle != 0 && e->bundle != q->bundle) {
      /* Another bundle's page (a store landed after the script ran) */
      if (q->other_is_miss) {
        rs_entry_release(e);
        e = NULL;
        s = RS_BLOB_EXPIRED;
      } else if ((q->script >= 1 && q->script <= 3) || q->script == 7) {
        q->script = q->script == 2 || q->script == 7 ? 4 : 5;   /* stale; refreshed by the lock holder */
      }
    }
    if (s == RS_BLOB_OK) {
      res = q->script == 4 ? RS_L3_STALE_LEAD : q->script == 5 ? RS_L3_STALE_WAIT
            : q->script == 7 ? RS_L3_REFRESH_LEAD : RS_L3_HIT;
      /* Its refresh ahead, as a page rendered here has it: when it is
       * due, the first lookup of the fleet takes the lock and refreshes it
       * (REFRESH_LEAD); one that finds it due and locked (another instance
       * refreshes it), or leads the refresh itself, keeps the page with
       * none (the tier has the new page when this copy expires). */
      uint64_t unix_now = rs_blob_now_unix_ms();
      e->refresh_ms = res == RS_L3_HIT && q->refresh_unix > unix_now ? rs_now_ms() + (q->refresh_unix - unix_now) : 0;
      if (res == RS_L3_STALE_LEAD || res == RS_L3_STALE_WAIT) {
        /* Stale in the tier (a soft purge, or past its TTL): stale here
         * from now on at the latest, within the grace it has. */
        uint64_t now = rs_now_ms(), age = now > e->created_ms ? now - e->created_ms : 0;
        if (e->ttl_ms > age) e->ttl_ms = age;
      }
    } else if (s == RS_BLOB_CORRUPT || s == RS_BLOB_OTHER_KEY) {
      fl->stats.corrupt++;
    }
    if (res == RS_L3_HIT && q->script == 2) rs_fleet_unlock(fl, q->key, q->klen, q->rid);
  }
  if (res == RS_L3_MISS) {
    if (q->script == 2 || q->script == 4 || q->script == 7) res = RS_L3_LEAD;
    else if (q->script == 3 || q->script == 5) res = RS_L3_WAIT;
  }
  switch (res) {
  case RS_L3_HIT: fl->stats.hits++; break;
  case RS_L3_LEAD: fl->stats.leads++; break;
  case RS_L3_WAIT: fl->stats.waits++; break;
  case RS_L3_MISS: fl->stats.misses++; break;
  case RS_L3_STALE_LEAD: fl->stats.stale++, fl->stats.leads++; break;
  case RS_L3_STALE_WAIT: fl->stats.stale++, fl->stats.waits++; break;
  case RS_L3_REFRESH_LEAD: fl->stats.hits++, fl->stats.leads++, fl->stats.refreshes++; break;
  }
  q->cb(q->data, res, e, q->seq);
  rs__lookup_unref(q);
}

void rs_fleet_lookup(rs_fleet_loop_t *fl, const char *key, size_t klen, uint64_t hash, uint64_t epoch,
                     uint64_t rid, uint64_t bundle, bool other_is_miss, rs_l3_cb cb, void *data) {
  rs__lookup_t *q = rs_xcalloc(1, sizeof(*q));
  q->fl = fl;
  q->cb = cb;
  q->data = data;
  q->key = rs_xstrndup(key, klen);
  q->klen = klen;
  q->hash = hash;
  q->epoch = epoch;
  q->rid = rid;
  q->bundle = bundle;
  q->other_is_miss = other_is_miss;
  if (!rs_fleet_loop_ready(fl)) {
    fl->stats.misses++;
    rs__answer_later(q, RS_L3_MISS);
    return;
  }
  rs_fleet_t *f = fl->f;
  char *m = rs__pkey(f->prefix, key, klen, 'm'), *l = rs__pkey(f->prefix, key, klen, 'l');
  char *k = rs__pkey(f->prefix, key, klen, 'k'), *b = rs__pkey(f->prefix, key, klen, 'b');
  char *kb = rs__pkey_base(f->prefix, key, klen, 'k');
  char *sk = rs__pkey(f->prefix, key, klen, 's'), *skb = rs__pkey_base(f->prefix, key, klen, 's');
  char rids[24], px[24], now[24], bund[24], dl[24];
  uint64_t unix_now = rs_blob_now_unix_ms();
  snprintf(rids, sizeof(rids), "%llu", (unsigned long long)rid);
  snprintf(px, sizeof(px), "%u", f->o.lock_ms);
  snprintf(now, sizeof(now), "%llu", (unsigned long long)unix_now);
  /* its deadline on Redis's clock, give or take the measure's error */
  if (!fl->clock_known && !fl->clock_asked) rs__clock_ask(fl);
  long long margin = (long long)(f->o.redis.timeout_ms ? f->o.redis.timeout_ms : 50) + (long long)fl->clock_err + 5;
  snprintf(dl, sizeof(dl), "%lld", fl->clock_known ? (long long)unix_now + fl->clock_off + margin : 0LL);
  rs__bundle_str(bund, sizeof(bund), bundle);
  const char *argv[] = { "EVALSHA", fl->sha[RS__S_LOOKUP], "12", m, l, f->k_te, f->k_tp, f->k_seq, k, b, kb,
                         f->k_se, f->k_sp, sk, skb, rids, px, key, now, bund, other_is_miss ? "p" : "s", dl };
  size_t lens[RS_ARRAY_SIZE(argv)];
  for (size_t i = 0; i < RS_ARRAY_SIZE(argv); i++)   /* the key (17) is not NUL-terminated */
    lens[i] = i == 17 ? klen : strlen(argv[i]);
  const char *get[] = { "GET", b };
  /* Both commands go out or the lookup is a miss; each holds q. */
  int rc = rs_redis_cmd(fl->r, rs__lookup_script, q, 0, (int)RS_ARRAY_SIZE(argv), argv, lens);
  if (rc == 0) {
    q->refs++;
    rc = rs_redis_cmd(fl->r, rs__lookup_body, q, 0, 2, get, NULL);
    if (rc == 0) q->refs++;
  }
  free(m), free(l), free(k), free(b), free(kb), free(sk), free(skb);
  if (rc < 0) {
    fl->stats.errors++;
    fl->stats.misses++;
    rs__answer_later(q, RS_L3_MISS);
  }
}

/* ------------------------------------------------------------ stores, unlocks */

static void rs__stored(rs_redis_t *r, void *data, const redisReply *reply, int status) {
  (void)r;
  rs_fleet_loop_t *fl = data;
  if (status != 0) {
    fl->stats.errors++;
  } else if (reply->type == REDIS_REPLY_INTEGER) {
    if (reply->integer == 1) fl->stats.stores++;
    else fl->stats.stores_refused++;
  } else {
    fl->stats.errors++;
    if (!rs__noscript(fl, reply) && reply->type == REDIS_REPLY_ERROR)
      rs_log_warn("redis: store: %.*s", (int)reply->len, reply->str);
  }
}

void rs_fleet_store(rs_fleet_loop_t *fl, const rs_entry_t *e, uint64_t start_seq, uint64_t rid) {
  if (!rs_fleet_loop_ready(fl)) return;
  rs_fleet_t *f = fl->f;
  rs_blob_meta_t meta = { .start_seq = start_seq, .render_id = rid };
  size_t blen;
  char *blob = rs_blob_encode(e, &meta, f->o.max_bytes, &blen);
  if (blob == NULL) {
    fl->stats.too_big++;
    rs_fleet_unlock(fl, e->key, e->key_len, rid);
    return;
  }
  uint64_t now = rs_now_ms(), end = e->created_ms + e->ttl_ms + e->grace_ms;
  if (end <= now + 1) {                          /* nothing left to share */
    free(blob);
    rs_fleet_unlock(fl, e->key, e->key_len, rid);
    return;
  }
  rs_buf_t tags = { 0 };
  for (size_t i = 0; i < e->ntags; i++) {
    if (i) rs_buf_append(&tags, "\n", 1);
    rs_buf_append(&tags, e->tags[i], strlen(e->tags[i]));
  }
  char *m = rs__pkey(f->prefix, e->key, e->key_len, 'm'), *b = rs__pkey(f->prefix, e->key, e->key_len, 'b');
  char *l = rs__pkey(f->prefix, e->key, e->key_len, 'l'), *k = rs__pkey(f->prefix, e->key, e->key_len, 'k');
  char *kb = rs__pkey_base(f->prefix, e->key, e->key_len, 'k');
  char seq[24], px[24], rids[24], fresh[24], bund[24], refresh[24];
  rs__bundle_str(bund, sizeof(bund), e->bundle);
  snprintf(seq, sizeof(seq), "%llu", (unsigned long long)start_seq);
  snprintf(px, sizeof(px), "%llu", (unsigned long long)(end - now));
  snprintf(rids, sizeof(rids), "%llu", (unsigned long long)rid);
  /* fresh until, on the wall clock (rs_blob.h): the lookups' stale test */
  uint64_t fresh_end = e->created_ms + e->ttl_ms;
  snprintf(fresh, sizeof(fresh), "%llu",
           (unsigned long long)(rs_blob_now_unix_ms() + (fresh_end > now ? fresh_end - now : 0)));
  /* its refresh-ahead time, on the wall clock (0: none) */
  snprintf(refresh, sizeof(refresh), "%llu", e->refresh_ms == 0 ? 0ull
           : (unsigned long long)(rs_blob_now_unix_ms() + (e->refresh_ms > now ? e->refresh_ms - now : 0)));
  const char *argv[] = { "EVALSHA", fl->sha[RS__S_STORE], "9", m, b, l, f->k_te, f->k_tp, k, kb, f->k_seq,
                         f->k_life, seq, tags.p ? tags.p : "", blob, px, rids, e->key, fresh, bund, refresh };
  size_t lens[RS_ARRAY_SIZE(argv)];
  for (size_t i = 0; i < RS_ARRAY_SIZE(argv); i++)   /* tags and the blob are not NUL-terminated */
    lens[i] = i == 13 ? tags.len : i == 14 ? blen : i == 17 ? e->key_len : strlen(argv[i]);
  if (rs_redis_cmd(fl->r, rs__stored, fl, f->o.write_timeout_ms, (int)RS_ARRAY_SIZE(argv), argv, lens) < 0)
    fl->stats.errors++;
  free(m), free(b), free(l), free(k), free(kb);
  rs_buf_free(&tags);
  free(blob);
}

void rs_fleet_unlock(rs_fleet_loop_t *fl, const char *key, size_t klen, uint64_t rid) {
  if (!rs_fleet_loop_ready(fl)) return;
  char *l = rs__pkey(fl->f->prefix, key, klen, 'l');
  char rids[24];
  snprintf(rids, sizeof(rids), "%llu", (unsigned long long)rid);
  const char *argv[] = { "EVALSHA", fl->sha[RS__S_UNLOCK], "1", l, rids };
  rs_redis_cmd(fl->r, rs__ignore, NULL, fl->f->o.write_timeout_ms, 5, argv, NULL);
  free(l);
}

/* ------------------------------------------------------------ purges */

typedef struct {
  rs_fleet_loop_t *fl;
  rs_fleet_purged_cb cb;
  void *data;
} rs__purge_t;

static void rs__purged(rs_redis_t *r, void *data, const redisReply *reply, int status) {
  (void)r;
  rs__purge_t *p = data;
  uint64_t seq = 0;
  if (status == 0 && reply->type == REDIS_REPLY_INTEGER) {
    seq = (uint64_t)reply->integer;
    p->fl->stats.purges_sent++;
  } else {
    p->fl->stats.errors++;
    if (status == 0 && !rs__noscript(p->fl, reply) && reply->type == REDIS_REPLY_ERROR)
      rs_log_warn("redis: purge: %.*s", (int)reply->len, reply->str);
  }
  if (p->cb) p->cb(p->data, seq);
  free(p);
}

static void rs__purge_failed_later(uv_timer_t *t) {
  rs__purge_t *p = t->data;
  if (p->cb) p->cb(p->data, 0);
  free(p);
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

void rs_fleet_purge(rs_fleet_loop_t *fl, rs_purge_by_t kind, const char *arg, size_t len, bool soft,
                    rs_fleet_purged_cb cb, void *data) {
  rs_fleet_t *f = fl->f;
  rs__purge_t *p = rs_xmalloc(sizeof(*p));
  *p = (rs__purge_t){ fl, cb, data };
  int rc = RS_REDIS_EDOWN;
  if (rs_fleet_loop_ready(fl)) {
    const char *karg = kind == RS_PURGE_KEY ? arg : "";   /* a base key (rs_fleet.h) */
    size_t klen = kind == RS_PURGE_KEY ? len : 0;
    char *m = rs__pkey(f->prefix, karg, klen, 'm'), *b = rs__pkey(f->prefix, karg, klen, 'b');
    char *k = rs__pkey(f->prefix, karg, klen, 'k');
    char hbuf[256];
    rs_key_t hk;                                  /* the base of a key hook's page (rs_key.h) */
    rs_key_init(&hk, hbuf, sizeof(hbuf));
    rs_key_hook_escape(&hk, karg, klen);
    char *kh = rs__pkey(f->prefix, hk.p, hk.len, 'k');
    char *sk = rs__pkey(f->prefix, karg, klen, 's'), *skh = rs__pkey(f->prefix, hk.p, hk.len, 's');
    rs_key_dispose(&hk);
    char slack[24], max[24];
    /* The markers outlive the pages stored before them by a lock's time
     * (RS__LUA_PURGE). */
    snprintf(slack, sizeof(slack), "%u", f->o.lock_ms);
    snprintf(max, sizeof(max), "%u", f->o.plog_max);
    const char *argv[] = { "EVALSHA", fl->sha[RS__S_PURGE], "17", f->k_seq, f->k_te, f->k_tp, f->k_plog, m, b, k, kh,
                           f->k_se, f->k_sp, sk, skh, f->k_life, f->k_tex, f->k_tpx, f->k_sex, f->k_spx,
                           rs_fleet__kind(kind, soft), arg ? arg : "", f->chan, slack, max };
    size_t lens[RS_ARRAY_SIZE(argv)];
    for (size_t i = 0; i < RS_ARRAY_SIZE(argv); i++)   /* arg is not NUL-terminated */
      lens[i] = i == 21 ? (arg ? len : 0) : strlen(argv[i]);
    rc = rs_redis_cmd(fl->r, rs__purged, p, f->o.write_timeout_ms, (int)RS_ARRAY_SIZE(argv), argv, lens);
    free(m), free(b), free(k), free(kh), free(sk), free(skh);
  }
  if (rc < 0) {
    fl->stats.errors++;
    uv_timer_t *t = rs_xmalloc(sizeof(*t));
    uv_timer_init(fl->loop, t);
    t->data = p;
    uv_timer_start(t, rs__purge_failed_later, 0, 0);
  }
}

/* ------------------------------------------------------------ life */

rs_fleet_t *rs_fleet_new(uv_loop_t *loop, const rs_fleet_opts_t *opts) {
  rs_fleet_t *f = rs_xcalloc(1, sizeof(*f));
  f->loop = loop;
  f->o = *opts;
  f->prefix = rs_xstrdup(opts->prefix ? opts->prefix : "rs:");
  f->o.prefix = f->prefix;
  if (f->o.write_timeout_ms == 0) f->o.write_timeout_ms = 50;
  if (f->o.lock_ms == 0) f->o.lock_ms = 10000;
  if (f->o.lock_wait_ms == 0) f->o.lock_wait_ms = 300;
  if (f->o.max_bytes == 0) f->o.max_bytes = 1 << 20;
  if (f->o.plog_max == 0) f->o.plog_max = 10000;
  f->k_seq = rs__cat(f->prefix, "seq");
  f->k_te = rs__cat(f->prefix, "te");
  f->k_tp = rs__cat(f->prefix, "tp");
  f->k_plog = rs__cat(f->prefix, "plog");
  f->chan = rs__cat(f->prefix, "purge");
  f->k_se = rs__cat(f->prefix, "se");
  f->k_sp = rs__cat(f->prefix, "sp");
  f->k_life = rs__cat(f->prefix, "life");
  f->k_tex = rs__cat(f->prefix, "te:x");
  f->k_tpx = rs__cat(f->prefix, "tp:x");
  f->k_sex = rs__cat(f->prefix, "se:x");
  f->k_spx = rs__cat(f->prefix, "sp:x");
  f->started = uv_now(loop);
  f->sub = rs_redis_new(loop, &f->o.redis);
  f->cmd = rs_redis_new(loop, &f->o.redis);
  if (f->sub == NULL || f->cmd == NULL) abort();
  const char *chans[] = { f->chan };
  rs_redis_subscribe(f->sub, chans, 1, rs_fleet__on_purge_msg, rs_fleet__sub_ready, f);
  rs_redis_on_ready(f->cmd, rs_fleet__cmd_ready, f);
  return f;
}

void rs_fleet_close(rs_fleet_t *f) {
  rs_redis_close(f->sub);
  rs_redis_close(f->cmd);
  free(f->k_seq), free(f->k_te), free(f->k_tp), free(f->k_plog), free(f->chan), free(f->prefix);
  free(f->k_se), free(f->k_sp), free(f->k_life), free(f->k_tex), free(f->k_tpx), free(f->k_sex), free(f->k_spx);
  free(f);
}

uint64_t rs_fleet_applied_seq(const rs_fleet_t *f) { return f->applied; }
bool rs_fleet_subscribed(const rs_fleet_t *f) { return rs_redis_ready(f->sub); }
const rs_fleet_stats_t *rs_fleet_stats(const rs_fleet_t *f) { return &f->stats; }

rs_fleet_loop_t *rs_fleet_loop_new(rs_fleet_t *f, uv_loop_t *loop) {
  rs_fleet_loop_t *fl = rs_xcalloc(1, sizeof(*fl));
  fl->f = f;
  fl->loop = loop;
  uv_timer_init(loop, &fl->later);
  fl->later.data = fl;
  if (f->o.redis.unref) uv_unref((uv_handle_t *)&fl->later);
  fl->r = rs_redis_new(loop, &f->o.redis);
  if (fl->r == NULL) abort();
  rs_redis_on_ready(fl->r, rs__loop_ready, fl);
  return fl;
}

static void rs__loop_timer_closed(uv_handle_t *h) { free(h->data); }

void rs_fleet_loop_close(rs_fleet_loop_t *fl) {
  rs__later_run(&fl->later);                     /* answer what waits */
  rs_redis_close(fl->r);
  /* A server's last uv_walk may have closed it already (the loop ended). */
  if (uv_is_closing((uv_handle_t *)&fl->later)) rs__loop_timer_closed((uv_handle_t *)&fl->later);
  else uv_close((uv_handle_t *)&fl->later, rs__loop_timer_closed);
}

bool rs_fleet_loop_ready(const rs_fleet_loop_t *fl) {
  return fl->loaded == RS__S_MAX && rs_redis_ready(fl->r);
}

const rs_fleet_stats_t *rs_fleet_loop_stats(const rs_fleet_loop_t *fl) { return &fl->stats; }

bool rs_fleet_loop_breaker(const rs_fleet_loop_t *fl, uint64_t *trips) {
  *trips = rs_redis_stats(fl->r)->breaker_trips;
  return rs_redis_breaker_open(fl->r);
}
