# bench/lib/gateway.sh — sourced by bench/hooks.sh and bench/proxy.sh: the
# set-up and clean-up bench/run does, then bench/lib/gateway.py WHAT.
#
# Installs what is missing (Debian: wrk, nginx-light, libnginx-mod-http-lua),
# takes $RUSTYSSR_BIN or build/release/rustyssr (built with CMake when it is
# missing), builds the demo bundle when it is missing, and stops every
# process group gateway.py started, even when it is killed or interrupted
# (bench/lib/common.sh).
source "$(dirname "$0")/lib/common.sh"

gateway_run() {  # WHAT [ARGS...]
  local what=$1
  shift
  for a in "$@"; do
    case "$a" in
      -h|--help) exec python3 "$here/bench/lib/gateway.py" "$what" --help ;;
      --from-json*) exec python3 "$here/bench/lib/gateway.py" "$what" "$@" ;;   # only the report
    esac
  done
  bench_tools python3:python3 wrk:wrk nginx:nginx-light \
    /usr/lib/nginx/modules/ngx_http_lua_module.so:libnginx-mod-http-lua
  bench_binary
  [ "$what" = hooks ] && bench_bundle
  bench_py gw "$here/bench/lib/gateway.py" "$what" "$@"
}
