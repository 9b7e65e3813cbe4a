# End-to-end tests of the `rtev` command line: each script runs the rtev binary against real
# `rtev serve` processes on 127.0.0.1 and ends with "N passed, M failed".
# Included from tests/CMakeLists.txt (CMAKE_CURRENT_SOURCE_DIR is tests/).

set(_rtev_cli_e2e tail jq publish replay connection connect connect_editing misc protocols ci signals bench)
# Foreign servers (a Node socket.io server, a Node SSE server, a FastAPI-style Node `ws` server)
# need Node and the pinned npm packages in tests/interop/node_modules (`./dev test` installs
# them).
find_program(RTEV_NODE node)
if(RTEV_NODE AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/interop/node_modules/socket.io)
  list(APPEND _rtev_cli_e2e foreign foreign_socketio)
else()
  message(STATUS "node or tests/interop/node_modules/socket.io missing: cli:e2e_foreign and cli:e2e_foreign_socketio are not added (./dev test)")
endif()
if(RTEV_NODE AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/interop/node_modules/ws)
  list(APPEND _rtev_cli_e2e foreign_ws)
else()
  message(STATUS "node or tests/interop/node_modules/ws missing: cli:e2e_foreign_ws is not added (./dev test)")
endif()
find_program(RTEV_TMUX tmux)
if(RTEV_TMUX)
  list(APPEND _rtev_cli_e2e connect_tmux)
else()
  message(STATUS "tmux not found: cli:e2e_connect_tmux is not added (./dev test installs tmux)")
endif()

# Certificates: a self-signed one made by `openssl req` at test time, served over TLS by Debian's
# python3-websockets (./dev test installs both).
find_program(RTEV_OPENSSL openssl)
execute_process(COMMAND /usr/bin/python3 -c "import websockets" RESULT_VARIABLE _rtev_no_websockets
                OUTPUT_QUIET ERROR_QUIET)
if(RTEV_OPENSSL AND _rtev_no_websockets EQUAL 0)
  list(APPEND _rtev_cli_e2e tls)
else()
  message(STATUS "openssl or python3-websockets missing: cli:e2e_tls is not added (./dev test)")
endif()
# The CLI's HTTP requests over https://: a real rtev serve behind a TLS front in Python's ssl
# module (tls_http_proxy.py), with a certificate from `openssl req`.
if(RTEV_OPENSSL)
  list(APPEND _rtev_cli_e2e https)
else()
  message(STATUS "openssl missing: cli:e2e_https is not added (./dev test)")
endif()

# Several `rtev serve --broker` nodes on a redis-server the test starts on a free port
# (Debian's redis-server; ./dev test installs it).
find_program(RTEV_REDIS_SERVER redis-server PATHS /usr/bin /usr/sbin)
if(RTEV_REDIS_SERVER)
  list(APPEND _rtev_cli_e2e cluster)
else()
  message(STATUS "redis-server not found: cli:e2e_cluster is not added (./dev test installs it)")
endif()
# The same failover with an SDK program as the client: examples/resumable_consumer.cpp.
if(RTEV_REDIS_SERVER AND RTEV_BUILD_EXAMPLES)
  add_test(NAME cli:e2e_cluster_sdk
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/cli/e2e_cluster_sdk.py $<TARGET_FILE:rtev>
                   $<TARGET_FILE:example_resumable_consumer>)
  set_tests_properties(cli:e2e_cluster_sdk PROPERTIES TIMEOUT 480)
endif()

foreach(_name IN LISTS _rtev_cli_e2e)
  add_test(NAME cli:e2e_${_name}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/cli/e2e_${_name}.py $<TARGET_FILE:rtev>)
  # A safety net, not a speed check: under ASan e2e_misc alone takes about two minutes.
  set_tests_properties(cli:e2e_${_name} PROPERTIES TIMEOUT 480)
endforeach()

# The man page renders without warnings and its EXAMPLES run as written (groff from ./dev test).
add_test(NAME cli:man_page_renders_and_its_examples_run
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/cli/man_page.py $<TARGET_FILE:rtev>)
set_tests_properties(cli:man_page_renders_and_its_examples_run PROPERTIES TIMEOUT 180)

# bench/side-by-side --quick: rtev serve beside Node `ws` (tests/interop/node_modules) and
# Debian's nats-server (./dev test installs it), all under rtev bench. bench/cluster --quick: 1, 2
# and 3 rtev serve nodes on a redis-server it starts, beside the same peers (nats-server also
# three routed) and one node on SQLite.
find_program(RTEV_NATS_SERVER nats-server PATHS /usr/sbin)
if(RTEV_NODE AND RTEV_NATS_SERVER AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/interop/node_modules/ws)
  set(_rtev_bench_smoke side_by_side)
  if(RTEV_REDIS_SERVER)
    list(APPEND _rtev_bench_smoke cluster)
  else()
    message(STATUS "redis-server not found: bench:cluster_smoke is not added (./dev test installs it)")
  endif()
  foreach(_name IN LISTS _rtev_bench_smoke)
    add_test(NAME bench:${_name}_smoke
             COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/bench/${_name}_smoke.py
                     $<TARGET_FILE:rtev>)
    set_tests_properties(bench:${_name}_smoke PROPERTIES TIMEOUT 600 LABELS bench)
  endforeach()
else()
  message(STATUS "node, nats-server or tests/interop/node_modules/ws missing: bench:side_by_side_smoke and bench:cluster_smoke are not added (./dev test)")
endif()
