/* tests/fuzz/fuzz_blob.c — the shared tier's page decoder (core/fleet/rs_blob.c)
 * on arbitrary bytes. The input's last 8 bytes are replaced by the checksum
 * of the rest, so the fuzzer explores the structure behind the checksum
 * instead of stopping at it. Decoding must never read outside the input,
 * leak or crash, and a page it returns must hold the key asked for. */
#include "rs_blob.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *blob = malloc(size ? size : 1);
  if (blob == NULL) return 0;
  memcpy(blob, data, size);
  if (size >= 8) {
    uint64_t sum = XXH3_64bits(blob, size - 8);
    for (int i = 0; i < 8; i++) blob[size - 8 + (size_t)i] = (char)(sum >> (8 * i));
  }
  static const char key[] = "GET a/x";
  rs_entry_t *e = NULL;
  rs_blob_meta_t m;
  uint64_t now = (uint64_t)1 << 41;              /* fixed: the same input decodes the same way */
  if (rs_blob_decode(blob, size, key, sizeof key - 1, 1, 0, now, &e, &m) == RS_BLOB_OK) {
    if (e == NULL || e->key_len != sizeof key - 1 || memcmp(e->key, key, e->key_len) != 0) abort();
    size_t len;
    char *again = rs_blob_encode(e, &m, SIZE_MAX, &len);   /* what it decoded encodes again */
    if (again == NULL) abort();
    free(again);
    rs_entry_release(e);
  } else if (e != NULL) {
    abort();
  }
  free(blob);
  return 0;
}
