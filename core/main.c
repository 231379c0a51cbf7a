/* core/main.c — the command line, in nginx's manner:
 *
 *   rustyssr [-c FILE] [-t | -T] [-s SIGNAL] [-V] [-h]
 *
 * -c FILE    the Lua config (default ./rustyssr.lua, else ./rustyssr.lua.example)
 * -t         load and check the config, then exit 0 (ok) or 1 (with the reason)
 * -T         the same, and print the effective configuration
 * -s SIGNAL  send stop, quit, reload or reopen to the instance whose pid the
 *            config's pid file holds, then exit
 * -V         print the version and the V8 linked in */
#include "rs_accesslog.h"
#include "rs_config.h"
#include "rs_dispatch.h"
#include "rs_lconfig.h"
#include "rs_ldump.h"
#include "rs_log.h"
#include "rs_pidfile.h"
#include "rs_pool.h"
#include "rs_server.h"
#include "rs_v8.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
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
          "usage: rustyssr [-c FILE] [-t | -T] [-s SIGNAL] [-V] [-h]\n"
          "  -c, --config FILE  Lua config file (default ./rustyssr.lua, else ./rustyssr.lua.example)\n"
          "  -t, --test         check the config (and load the bundle), then exit\n"
          "  -T                 check as -t, and print the effective configuration (every\n"
          "                     setting, its value and where it came from) to stdout\n"
          "  -s SIGNAL          send a signal to the running instance (found through the\n"
          "                     config's pid file): stop (SIGTERM: drain, then exit),\n"
          "                     quit (SIGQUIT: the same), reload (SIGHUP), reopen (SIGUSR1:\n"
          "                     reopen the log files)\n"
          "  -V, --version      print the version and exit\n"
          "  -h, --help         this help\n");
}

static const struct {
  const char *name;
  int sig;
} rs__signals[] = {
  { "stop", SIGTERM }, { "quit", SIGQUIT }, { "reload", SIGHUP }, { "reopen", SIGUSR1 },
};

/* rustyssr -s NAME: the config names the pid file; signal that process. */
static int rs__send_signal(const rs_config_t *cfg, const char *path, int sig, const char *name) {
  if (cfg->pid == NULL) {
    fprintf(stderr, "rustyssr: -s %s: %s sets no pid file: add ssr.config { pid = \"rustyssr.pid\" }\n",
            name, path);
    return 1;
  }
  pid_t pid;
  int rc = rs_pidfile_read(cfg->pid, &pid);
  if (rc != 0) {
    fprintf(stderr, "rustyssr: -s %s: cannot read pid file %s: %s%s\n", name, cfg->pid,
            rc == -EINVAL ? "no pid in it" : strerror(-rc), rc == -ENOENT ? " (is rustyssr running?)" : "");
    return 1;
  }
  if (kill(pid, sig) != 0) {
    fprintf(stderr, "rustyssr: -s %s: pid %ld (from %s): %s%s\n", name, (long)pid, cfg->pid, strerror(errno),
            errno == ESRCH ? " (a stale pid file: rustyssr is not running)" : "");
    return 1;
  }
  return 0;
}

static void rs__print_warning(void *ud, const char *line) {
  (void)ud;
  fprintf(stderr, "rustyssr: warning: %s\n", line);
}

static void rs__log_warning(void *ud, const char *line) {
  (void)ud;
  rs_log_warn("%s", line);
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
    { "config", required_argument, NULL, 'c' }, { "test", no_argument, NULL, 't' },
    { "version", no_argument, NULL, 'V' },      { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *path = NULL, *signame = NULL;
  int sig = 0;
  bool test = false, dump = false;
  int opt;
  while ((opt = getopt_long(argc, argv, "c:tTs:Vh", longopts, NULL)) != -1) {
    switch (opt) {
      case 'c': path = optarg; break;
      case 't': test = true; break;
      case 'T': test = dump = true; break;
      case 's':
        signame = optarg;
        for (size_t i = 0; i < RS_ARRAY_SIZE(rs__signals); i++)
          if (strcmp(optarg, rs__signals[i].name) == 0) sig = rs__signals[i].sig;
        if (sig == 0) {
          fprintf(stderr, "rustyssr: invalid signal '%s' for -s: stop, quit, reload or reopen\n", optarg);
          return 2;
        }
        break;
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

  rs_dispatch_init();             /* the actions a route may name, before any config loads */
  rs_config_t cfg;
  rs_config_init(&cfg);
  char err[1024];
  if (rs_lconfig_load(path, &cfg, err, sizeof(err)) != 0) {
    fprintf(stderr, "rustyssr: %s\n", err);
    if (test) fprintf(stderr, "rustyssr: configuration file %s test failed\n", path);
    rs_config_dispose(&cfg);
    return 1;
  }
  if (sig != 0) {
    int rc = rs__send_signal(&cfg, path, sig, signame);
    rs_config_dispose(&cfg);
    return rc;
  }
  if (test) rs_config_each_warning(&cfg, rs__print_warning, NULL);
  if (test && cfg.render.bundle != NULL && rs_pool_check(&cfg, err, sizeof(err)) != 0) {
    fprintf(stderr, "rustyssr: %s\n", err);
    fprintf(stderr, "rustyssr: configuration file %s test failed\n", path);
    rs_config_dispose(&cfg);
    return 1;
  }
  if (test) {
    if (dump) {
      rs_ldump_config(&cfg, stdout);
      fflush(stdout);
    }
    fprintf(stderr, "rustyssr: configuration file %s syntax is ok\n", path);
    fprintf(stderr, "rustyssr: configuration file %s test is successful\n", path);
    rs_config_dispose(&cfg);
    return 0;
  }
  int rc = rs_log_open(cfg.log.error, cfg.log.level);
  const char *failed = cfg.log.error;
  if (rc == 0) rc = rs_accesslog_open(&cfg, &failed);
  if (rc != 0) {
    fprintf(stderr, "rustyssr: cannot open log %s: %s\n", failed ? failed : "", strerror(-rc));
    rs_config_dispose(&cfg);
    return 1;
  }
  rs__raise_nofile();
  rs_config_each_warning(&cfg, rs__log_warning, NULL);
  if (cfg.pid != NULL) {
    pid_t stale;
    if (rs_pidfile_create(cfg.pid, &stale, err, sizeof(err)) != 0) {
      rs_log_error("%s", err);
      rs_config_dispose(&cfg);
      rs_log_close();
      return 1;
    }
    if (stale != 0) rs_log_warn("pid file %s: replaced a stale one (pid %ld is not running)", cfg.pid, (long)stale);
  }
  rc = rs_server_run(&cfg);
  if (cfg.pid != NULL) rs_pidfile_remove(cfg.pid);
  rs_config_dispose(&cfg);
  rs_log_close();
  return rc < 0 ? 1 : rc;
}
