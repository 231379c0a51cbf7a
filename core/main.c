/* core/main.c — the command line, in nginx's manner:
 *
 *   rustyssr [-c FILE] [-t] [-V] [-h]
 *
 * -c FILE  the Lua config (default ./rustyssr.lua, else ./rustyssr.lua.example)
 * -t       load and check the config, then exit 0 (ok) or 1 (with the reason)
 * -V       print the version and the V8 linked in */
#include "rs_config.h"
#include "rs_lconfig.h"
#include "rs_log.h"
#include "rs_pool.h"
#include "rs_server.h"
#include "rs_v8.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Raise the soft limit on open files to the hard one (nginx's
 * worker_rlimit_nofile, done for every start): each connection, upstream
 * connection and log costs a descriptor, and the soft default (1024) is
 * reached long before the machine's. Logged either way, since it bounds how
 * many clients the process can hold. */
static void rs__raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t was = rl.rlim_cur;
  if (rl.rlim_cur < rl.rlim_max) {
    struct rlimit want = { rl.rlim_max, rl.rlim_max };
    /* An unlimited hard limit is refused for NOFILE: fs.nr_open is the real one. */
    if (setrlimit(RLIMIT_NOFILE, &want) != 0 && rl.rlim_max == RLIM_INFINITY) {
      FILE *f = fopen("/proc/sys/fs/nr_open", "r");
      unsigned long long n = 0;
      if (f != NULL && fscanf(f, "%llu", &n) == 1) want.rlim_cur = (rlim_t)n;
      if (f != NULL) fclose(f);
      if (n > rl.rlim_cur) setrlimit(RLIMIT_NOFILE, &want);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != was)
    rs_log_info("open files limit: %llu (raised from %llu, the hard limit)", (unsigned long long)rl.rlim_cur,
                (unsigned long long)was);
  else
    rs_log_info("open files limit: %llu (the hard limit)", (unsigned long long)rl.rlim_cur);
}

static void rs__usage(FILE *f) {
  fprintf(f,
          "usage: rustyssr [-c FILE] [-t] [-V] [-h]\n"
          "  -c FILE  Lua config file (default ./rustyssr.lua, else ./rustyssr.lua.example)\n"
          "  -t       check the config and exit\n"
          "  -V       print version and exit\n"
          "  -h       this help\n");
}

int main(int argc, char **argv) {
  const char *path = NULL;
  bool test = false;
  int opt;
  while ((opt = getopt(argc, argv, "c:tVh")) != -1) {
    switch (opt) {
      case 'c': path = optarg; break;
      case 't': test = true; break;
      case 'V': printf("rustyssr %s (V8 %s)\n", RS_VERSION, rs_v8_version()); return 0;
      case 'h': rs__usage(stdout); return 0;
      default: rs__usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "rustyssr: unexpected argument '%s'\n", argv[optind]);
    rs__usage(stderr);
    return 2;
  }
  if (path == NULL) path = access("rustyssr.lua", R_OK) == 0 ? "rustyssr.lua" : "rustyssr.lua.example";

  rs_config_t cfg;
  rs_config_init(&cfg);
  char err[1024];
  if (rs_lconfig_load(path, &cfg, err, sizeof(err)) != 0) {
    fprintf(stderr, "rustyssr: %s\n", err);
    if (test) fprintf(stderr, "rustyssr: configuration file %s test failed\n", path);
    rs_config_dispose(&cfg);
    return 1;
  }
  if (test && cfg.render.bundle != NULL && rs_pool_check(&cfg, err, sizeof(err)) != 0) {
    fprintf(stderr, "rustyssr: %s\n", err);
    fprintf(stderr, "rustyssr: configuration file %s test failed\n", path);
    rs_config_dispose(&cfg);
    return 1;
  }
  if (test) {
    fprintf(stderr, "rustyssr: configuration file %s syntax is ok\n", path);
    fprintf(stderr, "rustyssr: configuration file %s test is successful\n", path);
    rs_config_dispose(&cfg);
    return 0;
  }
  int rc = rs_log_open(cfg.log.error, cfg.log.level);
  if (rc == 0) rc = rs_log_access_open(cfg.log.access);
  if (rc != 0) {
    fprintf(stderr, "rustyssr: cannot open log: %s\n", strerror(-rc));
    rs_config_dispose(&cfg);
    return 1;
  }
  rs__raise_nofile();
  rc = rs_server_run(&cfg);
  rs_config_dispose(&cfg);
  rs_log_close();
  return rc < 0 ? 1 : rc;
}
