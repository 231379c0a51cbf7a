# Run by `cmake --install` (see CMakeLists.txt): writes the systemd unit and
# the logrotate snippet with the paths of this installation. At install
# time CMAKE_INSTALL_PREFIX is the --prefix given then; DESTDIR is honoured.
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr")
  set(etc "/etc")
  set(var "/var")
else()
  set(etc "${prefix}/etc")
  set(var "${prefix}/var")
endif()
set(RS_FULL_BINDIR "${prefix}/${RS_BINDIR}")
set(RS_FULL_DOCDIR "${prefix}/${RS_DOCDIR}")
set(RS_CONF_DIR "${etc}/rustyssr")
set(RS_LOG_DIR "${var}/log/rustyssr")
set(RS_PID_FILE "/run/rustyssr/rustyssr.pid")
set(RS_LOGROTATE_DIR "${etc}/logrotate.d")
foreach(pair "rustyssr.service.in;${prefix}/lib/systemd/system/rustyssr.service"
             "rustyssr.logrotate.in;${RS_LOGROTATE_DIR}/rustyssr")
  list(GET pair 0 src)
  list(GET pair 1 dst)
  message(STATUS "Installing: $ENV{DESTDIR}${dst}")
  configure_file("${RS_SOURCE_DIR}/contrib/${src}" "$ENV{DESTDIR}${dst}" @ONLY)
endforeach()
