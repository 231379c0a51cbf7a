/* core/rs_http.c — see rs_http.h. */
#include "rs_http.h"

#include <stdio.h>
#include <string.h>

const char *rs_http_reason(int status) {
  switch (status) {
#define XX(code, reason) case code: return reason;
    RS_HTTP_STATUS_MAP(XX)
#undef XX
    default: return "Unknown";
  }
}

static const struct { int status; const char *label; } rs__req_errors[] = {
  { 0, "ok" },
#define XX(name, status, label) { status, label },
  RS_REQ_ERROR_MAP(XX)
#undef XX
};

int rs_req_error_status(rs_req_error_t e) {
  return (unsigned)e < RS_REQ_E_MAX ? rs__req_errors[e].status : 500;
}

const char *rs_req_error_label(rs_req_error_t e) {
  return (unsigned)e < RS_REQ_E_MAX ? rs__req_errors[e].label : "unknown";
}

/* Pages, indexed by status - 100: 3xx (redirect bodies), 4xx and 5xx. */
static char *rs__pages[500];
static size_t rs__page_lens[500];

void rs_http_init(void) {
  static const int codes[] = {
#define XX(code, reason) code,
    RS_HTTP_STATUS_MAP(XX)
#undef XX
  };
  for (size_t i = 0; i < RS_ARRAY_SIZE(codes); i++) {
    int c = codes[i];
    if (c < 300 || c == 304 || rs__pages[c - 100] != NULL) continue;
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
                     "<center><h1>%d %s</h1></center>\r\n<hr><center>rustyssr</center>\r\n"
                     "</body>\r\n</html>\r\n",
                     c, rs_http_reason(c), c, rs_http_reason(c));
    rs__pages[c - 100] = rs_xstrndup(buf, (size_t)n);
    rs__page_lens[c - 100] = (size_t)n;
  }
}

rs_str_t rs_http_error_page(int status) {
  if (status >= 300 && status < 600 && rs__pages[status - 100] != NULL)
    return (rs_str_t){ rs__pages[status - 100], rs__page_lens[status - 100] };
  return rs_http_error_page(status >= 500 ? 500 : 400);
}

size_t rs_http_date_line(char *buf, time_t t) {
  static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
  static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  struct tm tm;
  gmtime_r(&t, &tm);
  int n = snprintf(buf, RS_HTTP_DATE_LINE_MAX, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                   days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
                   tm.tm_hour, tm.tm_min, tm.tm_sec);
  return n > 0 ? (size_t)n : 0;
}

/* Does the If-None-Match list hold etag ("*" holds anything; a NULL etag
 * only that)? Weak comparison, RFC 9110 §13.1.2: W/ is ignored. */
bool rs_http_etag_match(const rs_str_t *inm, const char *etag, size_t etag_len) {
  const char *p = inm->p, *end = inm->p + inm->len;
  while (p < end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) p++;
    if (p == end) break;
    if (*p == '*') return true;
    if (end - p >= 2 && p[0] == 'W' && p[1] == '/') p += 2;
    const char *s = p;
    if (p < end && *p == '"') {
      p++;
      while (p < end && *p != '"') p++;
      if (p < end) p++;
    } else {
      while (p < end && *p != ',' && *p != ' ' && *p != '\t') p++;
    }
    if (etag != NULL && (size_t)(p - s) == etag_len && memcmp(s, etag, etag_len) == 0)
      return true;
    if (p == s) p++;             /* a stray byte: step over it */
  }
  return false;
}
