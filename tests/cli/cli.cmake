# End-to-end tests of the `rtev` command line: each script runs the rtev binary against real
# `rtev serve` processes on 127.0.0.1 and ends with "N passed, M failed".
# Included from tests/CMakeLists.txt (CMAKE_CURRENT_SOURCE_DIR is tests/).

set(_rtev_cli_e2e tail publish replay connection connect misc)
find_program(RTEV_TMUX tmux)
if(RTEV_TMUX)
  list(APPEND _rtev_cli_e2e connect_tmux)
else()
  message(STATUS "tmux not found: cli:e2e_connect_tmux is not added (./dev test installs tmux)")
endif()

foreach(_name IN LISTS _rtev_cli_e2e)
  add_test(NAME cli:e2e_${_name}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/cli/e2e_${_name}.py $<TARGET_FILE:rtev>)
  set_tests_properties(cli:e2e_${_name} PROPERTIES TIMEOUT 180)
endforeach()
