# Reliability suites against a real `rtev serve` (Python 3, standard library only), each
# ending with "N passed, M failed":
# - bad_inputs: every bad input of docs/reliability.md's table, a canary client after each;
# - isolation: the matrix of a JWT-authenticated server (users × rooms × read paths);
# - kill9_storm, subscriber_faults, connection_flood: the server killed with SIGKILL
#   mid-storm, subscribers behind a proxy that cuts, freezes and delays the link, a flood of
#   abrupt and half-open connections. The default run is short; RTEV_SOAK_CYCLES=N (or
#   `--cycles N`) runs the long version (docs/reliability.md).
# One support layer, one helper per job: wire.py (HTTP requests, the raw WebSocket client and
# its threaded JSON view), streams.py (SSE reader, Engine.IO/Socket.IO, the canary), faults.py
# (fault proxy, /proc readings, soak knobs), env.py and doors.py (bad_inputs' server, tokens,
# inputs and expected replies); Suite, Server and jwt_hs256 come from tests/cli/cli_e2e_support.py.
# Included from tests/CMakeLists.txt (CMAKE_CURRENT_SOURCE_DIR is tests/).
foreach(_name IN ITEMS bad_inputs isolation kill9_storm subscriber_faults connection_flood)
  add_test(NAME reliability:${_name}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/reliability/${_name}.py $<TARGET_FILE:rtev>)
  set_tests_properties(reliability:${_name} PROPERTIES TIMEOUT 300)
endforeach()
