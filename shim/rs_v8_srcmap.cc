// shim/rs_v8_srcmap.cc — the original source position of a bundle position,
// for error messages, from a source map (v3) beside the bundle. Only what an
// error needs: the bundle's `//# sourceMappingURL=file.map` (a relative or
// absolute file path; data: and http(s): URLs are ignored), the map's
// "sources", "sourceRoot" and "mappings", read once, at the first error that
// asks, and a lookup of one position. No map, or a map that does not parse:
// no original position, never an error of its own.
#include "rs_v8_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include <algorithm>
#include <memory>

struct rs__v8_srcmap {
  std::vector<std::string> sources;
  // Per generated line: segments (generated col, source, line, col), all
  // 0-based, sorted by generated column.
  struct seg { int gcol, src, line, col; };
  std::vector<std::vector<seg>> lines;
};

using namespace rs__v8;

std::string rs__v8::srcmap_find(const std::string &bundle_path, const char *src, size_t len) {
  // The comment is at the end; look at the last 4 KB only.
  static const char kTag[] = "# sourceMappingURL=";
  size_t from = len > 4096 ? len - 4096 : 0;
  std::string tail(src + from, len - from);
  size_t at = std::string::npos;
  for (size_t p = tail.find(kTag); p != std::string::npos; p = tail.find(kTag, p + 1))
    if (p >= 2 && tail[p - 1] == '/' && tail[p - 2] == '/') at = p;
  if (at == std::string::npos) return "";
  size_t b = at + sizeof kTag - 1, e = b;
  while (e < tail.size() && !isspace((unsigned char)tail[e])) e++;
  std::string url = tail.substr(b, e - b);
  if (url.empty() || url.find(':') != std::string::npos) return "";  // data:, http:
  if (url[0] == '/') return url;
  size_t slash = bundle_path.rfind('/');
  return slash == std::string::npos ? url : bundle_path.substr(0, slash + 1) + url;
}

namespace {

// A tiny JSON reader: enough to walk the top-level object of a source map,
// keep the strings and string arrays asked for, and skip the rest.
struct json {
  const std::string &s;
  size_t i = 0;
  explicit json(const std::string &src) : s(src) {}
  void ws() {
    while (i < s.size() && isspace((unsigned char)s[i])) i++;
  }
  bool lit(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      i++;
      return true;
    }
    return false;
  }
  bool string(std::string *out) {
    ws();
    if (i >= s.size() || s[i] != '"') return false;
    i++;
    out->clear();
    while (i < s.size() && s[i] != '"') {
      char c = s[i++];
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (i >= s.size()) return false;
      char x = s[i++];
      switch (x) {
        case 'n': out->push_back('\n'); break;
        case 't': out->push_back('\t'); break;
        case 'r': out->push_back('\r'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'u': {
          if (i + 4 > s.size()) return false;
          unsigned v = (unsigned)strtoul(s.substr(i, 4).c_str(), nullptr, 16);
          i += 4;
          // Paths are ASCII in practice; anything else as UTF-8 (BMP).
          if (v < 0x80) {
            out->push_back((char)v);
          } else if (v < 0x800) {
            out->push_back((char)(0xC0 | (v >> 6)));
            out->push_back((char)(0x80 | (v & 63)));
          } else {
            out->push_back((char)(0xE0 | (v >> 12)));
            out->push_back((char)(0x80 | ((v >> 6) & 63)));
            out->push_back((char)(0x80 | (v & 63)));
          }
          break;
        }
        default: out->push_back(x);
      }
    }
    if (i >= s.size()) return false;
    i++;
    return true;
  }
  bool skip() {  // any value
    ws();
    if (i >= s.size()) return false;
    char c = s[i];
    std::string t;
    if (c == '"') return string(&t);
    if (c == '{' || c == '[') {
      char close = c == '{' ? '}' : ']';
      i++;
      if (lit(close)) return true;
      for (;;) {
        if (c == '{' && (!string(&t) || !lit(':'))) return false;
        if (!skip()) return false;
        if (lit(close)) return true;
        if (!lit(',')) return false;
      }
    }
    while (i < s.size() && (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '+' ||
                            s[i] == '.'))
      i++;
    return true;
  }
  bool strings(std::vector<std::string> *out) {
    if (!lit('[')) return false;
    if (lit(']')) return true;
    for (;;) {
      std::string t;
      ws();
      if (i < s.size() && s[i] == 'n') {  // null
        if (!skip()) return false;
      } else if (!string(&t)) {
        return false;
      }
      out->push_back(t);
      if (lit(']')) return true;
      if (!lit(',')) return false;
    }
  }
};

int b64(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool parse_mappings(const std::string &m, rs__v8_srcmap *map) {
  map->lines.emplace_back();
  int gcol = 0, src = 0, line = 0, col = 0;
  size_t i = 0;
  while (i < m.size()) {
    char c = m[i];
    if (c == ';') {
      map->lines.emplace_back();
      gcol = 0;
      i++;
      continue;
    }
    if (c == ',') {
      i++;
      continue;
    }
    int f[5] = {0, 0, 0, 0, 0}, n = 0;
    while (i < m.size() && m[i] != ',' && m[i] != ';') {
      int v = 0, shift = 0, d;
      do {
        if (i >= m.size() || (d = b64(m[i++])) < 0 || shift > 30) return false;
        v |= (d & 31) << shift;
        shift += 5;
      } while (d & 32);
      if (n < 5) f[n] = (v & 1) ? -(v >> 1) : (v >> 1);
      n++;
    }
    gcol += f[0];
    if (n >= 4) {
      src += f[1];
      line += f[2];
      col += f[3];
      map->lines.back().push_back({gcol, src, line, col});
    }
  }
  for (auto &l : map->lines)
    std::stable_sort(l.begin(), l.end(), [](const rs__v8_srcmap::seg &a,
                                            const rs__v8_srcmap::seg &b) { return a.gcol < b.gcol; });
  return true;
}

bool read_all(const std::string &path, std::string *out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (64 << 20);
  if (ok) {
    out->resize((size_t)st.st_size);
    size_t got = 0;
    while (got < out->size()) {
      ssize_t r = read(fd, &(*out)[got], out->size() - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += (size_t)r;
    }
    out->resize(got);
  }
  close(fd);
  return ok;
}

rs__v8_srcmap *load(const std::string &path) {
  std::string text;
  if (!read_all(path, &text)) return nullptr;
  json j(text);
  if (!j.lit('{')) return nullptr;
  auto map = std::make_unique<rs__v8_srcmap>();
  std::string root, mappings, key;
  if (!j.lit('}')) {
    for (;;) {
      if (!j.string(&key) || !j.lit(':')) return nullptr;
      if (key == "sources") {
        if (!j.strings(&map->sources)) return nullptr;
      } else if (key == "mappings" || key == "sourceRoot") {
        if (!j.string(key == "mappings" ? &mappings : &root)) return nullptr;
      } else if (!j.skip()) {
        return nullptr;
      }
      if (j.lit('}')) break;
      if (!j.lit(',')) return nullptr;
    }
  }
  if (!root.empty() && root.back() != '/') root += '/';
  for (auto &s : map->sources) s = root + s;
  if (!parse_mappings(mappings, map.get())) return nullptr;
  return map.release();
}

}  // namespace

std::string rs__v8::srcmap_lookup(rs_v8_engine_s *e, int line, int col) {
  if (e->map_path.empty()) return "";
  if (!e->srcmap_tried) {
    e->srcmap_tried = true;
    e->srcmap = load(e->map_path);
  }
  rs__v8_srcmap *m = e->srcmap;
  if (!m || line < 1 || (size_t)line > m->lines.size()) return "";
  const auto &segs = m->lines[(size_t)line - 1];
  const rs__v8_srcmap::seg *best = nullptr;
  for (const auto &s : segs) {
    if (s.gcol > col - 1) break;
    best = &s;
  }
  if (!best && !segs.empty()) best = &segs.front();
  if (!best || best->src < 0 || (size_t)best->src >= m->sources.size()) return "";
  return " (" + m->sources[(size_t)best->src] + ":" + std::to_string(best->line + 1) + ":" +
         std::to_string(best->col + 1) + ")";
}

void rs__v8::srcmap_free(rs_v8_engine_s *e) {
  delete e->srcmap;
  e->srcmap = nullptr;
}
