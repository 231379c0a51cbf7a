// shim/rs_v8.cc — see rs_v8.h.
#include "rs_v8.h"

#include <v8.h>

extern "C" const char *rs_v8_version(void) { return v8::V8::GetVersion(); }
