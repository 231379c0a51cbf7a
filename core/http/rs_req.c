/* core/http/rs_req.c — request structs: recycled per loop, the url/header arena and
 * the per-request pool (rs_req_alloc), header lookup. */
#include "rs_conn.h"
#include "rs_conn_int.h"

#include "rs_compress.h"

/* ------------------------------------------------------------------ requests */

rs_req_t *rs__req_new(rs_conn_t *c) {
  rs_loop_t *loop = c->loop;
  rs_req_t *r = loop->free_reqs;
  if (r != NULL) {
    loop->free_reqs = r->_next;
    loop->nfree_reqs--;
  } else {
    r = rs_xmalloc(sizeof(*r));
  }
  /* Clear the public part and the private bookkeeping, not the inline
   * buffers (6 KB that would be rewritten anyway). */
  memset(r, 0, offsetof(rs_req_t, _head_inline));
  r->_conn = c;
  r->loop = loop;
  r->_buf = r->_buf_inline;
  r->_cap = sizeof(r->_buf_inline);
  r->headers = r->_hdr_inline;
  r->_hcap = RS_REQ_INLINE_HDRS;
  r->_head = r->_head_inline;
  r->id = ((uint64_t)loop->index << 40) | ++loop->req_seq;
  r->server = c->server;
  r->tls = c->tio != NULL;
  r->start_ms = uv_now(&loop->uv);
  return r;
}

static void rs__req_release_resp(rs_req_t *r) {
  if (r->_resp.release != NULL) {
    void (*fn)(void *) = r->_resp.release;
    r->_resp.release = NULL;
    fn(r->_resp.release_ud);
  }
}

/* A block of rs_req_alloc beyond the request's own bytes. */
typedef struct rs__pool_block_s {
  struct rs__pool_block_s *next;
  _Alignas(16) char data[];
} rs__pool_block_t;

void *rs_req_alloc(rs_req_t *r, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (n <= RS_REQ_POOL_INLINE - r->_pool_used) {
    void *p = r->_pool_inline + r->_pool_used;
    r->_pool_used += n;
    return p;
  }
  rs__pool_block_t *b = rs_xmalloc(sizeof(*b) + n);
  b->next = r->_pool_blocks;
  r->_pool_blocks = b;
  return b->data;
}

void rs__req_free(rs_req_t *r) {
  rs_loop_t *loop = r->loop;
  rs__req_release_resp(r);
  rs_buf_free(&r->add_headers);
  rs_compress_req_free(r);
  if (r->on_free != NULL) {      /* after the response: its bytes may be the owner's */
    void (*fn)(rs_req_t *) = r->on_free;
    r->on_free = NULL;
    fn(r);
  }
  while (r->_pool_blocks != NULL) {   /* after on_free: the owner's state may live there */
    rs__pool_block_t *b = r->_pool_blocks;
    r->_pool_blocks = b->next;
    free(b);
  }
  if (r->_buf != r->_buf_inline) free(r->_buf);
  if (r->headers != r->_hdr_inline) free(r->headers);
  if (r->_head != r->_head_inline) free(r->_head);
  while (r->_chunks != NULL) {
    rs__chunk_t *ch = r->_chunks;
    r->_chunks = ch->next;
    free(ch);
  }
  while (r->_chunks_inhead != NULL) {
    rs__chunk_t *ch = r->_chunks_inhead;
    r->_chunks_inhead = ch->next;
    free(ch);
  }
  free(r->_body);
  if (loop->nfree_reqs < RS__FREE_REQS_MAX) {
    r->_next = loop->free_reqs;
    loop->free_reqs = r;
    loop->nfree_reqs++;
  } else {
    free(r);
  }
}

/* Append bytes to the request's url/header arena. Pointers into it are
 * stored as offsets until the headers are complete (it may move). */
int rs__req_append(rs_req_t *r, const char *p, size_t n) {
  if (r->_len + n > r->_cap) {
    size_t cap = r->_cap * 2;
    while (cap < r->_len + n) cap *= 2;
    char *nb;
    if (r->_buf == r->_buf_inline) {
      nb = malloc(cap);
      if (nb != NULL) memcpy(nb, r->_buf, r->_len);
    } else {
      nb = realloc(r->_buf, cap);
    }
    if (nb == NULL) return -1;
    r->_buf = nb;
    r->_cap = cap;
  }
  if (p != NULL) memcpy(r->_buf + r->_len, p, n);   /* NULL: room only */
  r->_len += n;
  return 0;
}

const rs_str_t *rs_req_header(const rs_req_t *req, const char *lname) {
  size_t n = strlen(lname);
  for (size_t i = 0; i < req->nheaders; i++)
    if (rs_str_ieq(req->headers[i].name.p, req->headers[i].name.len, lname, n))
      return &req->headers[i].value;
  return NULL;
}

/* A new header slot in r (grown as needed), or NULL out of memory. */
rs_header_t *rs__req_header_slot(rs_req_t *r) {
  if (r->nheaders == r->_hcap) {
    size_t cap = r->_hcap * 2;
    rs_header_t *nh = r->headers == r->_hdr_inline ? malloc(cap * sizeof(*nh))
                                                   : realloc(r->headers, cap * sizeof(*nh));
    if (nh == NULL) return NULL;
    if (r->headers == r->_hdr_inline) memcpy(nh, r->headers, r->nheaders * sizeof(*nh));
    r->headers = nh;
    r->_hcap = cap;
  }
  return &r->headers[r->nheaders++];
}

void rs_req_log_set(rs_req_t *req, rs_log_field_t field, const char *s, size_t n) {
  if ((unsigned)field >= RS_LOG_F_MAX) return;
  n = RS_MIN(n, 256);
  char *p = rs_req_alloc(req, n ? n : 1);
  if (p == NULL) return;
  if (n) memcpy(p, s, n);
  req->log[field] = (rs_str_t){ p, n };
}
