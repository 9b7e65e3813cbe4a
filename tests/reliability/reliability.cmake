# Reliability suites against a real `rtev serve` (Python 3, standard library only): every bad
# input of docs/reliability.md's table with a canary client after each, and the isolation
# matrix of a JWT-authenticated server. Each ends with "N passed, M failed".
# Included from tests/CMakeLists.txt (CMAKE_CURRENT_SOURCE_DIR is tests/).
foreach(_name IN ITEMS bad_inputs isolation)
  add_test(NAME reliability:${_name}
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/reliability/${_name}.py $<TARGET_FILE:rtev>)
  set_tests_properties(reliability:${_name} PROPERTIES TIMEOUT 300)
endforeach()
