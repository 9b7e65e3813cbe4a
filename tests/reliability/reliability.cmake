# Reliability suites against a real `rtev serve` (Python 3, standard library only), each
# ending with "N passed, M failed":
# - bad_inputs: every bad input of docs/reliability.md's table, a canary client after each;
# - isolation: the matrix of a JWT-authenticated server (users × rooms × read paths);
# - kill9_storm, subscriber_faults, connection_flood: the server killed with SIGKILL
#   mid-storm, subscribers behind a proxy that cuts, freezes and delays the link, a flood of
#   abrupt and half-open connections. The default run is short; RTEV_SOAK_CYCLES=N (or
#   `--cycles N`) runs the long version (docs/reliability.md).
# Included from tests/CMakeLists.txt (CMAKE_CURRENT_SOURCE_DIR is tests/).
foreach(_name IN ITEMS bad_inputs isolation kill9_storm subscriber_faults connection_flood)
  add_test(NAME reliability:${_name}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/reliability/${_name}.py $<TARGET_FILE:rtev>)
  set_tests_properties(reliability:${_name} PROPERTIES TIMEOUT 300)
endforeach()
