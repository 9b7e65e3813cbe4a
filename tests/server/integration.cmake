# server-lite integration tests: the real server, in-process (rtev::server on port 0) and as a
# child process (`rtev serve`), driven by the raw-socket clients in tests/support.
# Included from tests/CMakeLists.txt.

add_library(rtev_test_support STATIC
  ${CMAKE_CURRENT_LIST_DIR}/../support/tcp_stream.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../support/ws_client.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../support/http_client.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../support/rtev_client.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../support/serve_process.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../support/local_server.cpp)
target_include_directories(rtev_test_support PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(rtev_test_support
  PUBLIC rtev::server nlohmann_json::nlohmann_json Threads::Threads
  PRIVATE rtev_warnings)
target_compile_features(rtev_test_support PUBLIC cxx_std_17)
target_compile_definitions(rtev_test_support PRIVATE RTEV_BINARY="$<TARGET_FILE:rtev>")
add_dependencies(rtev_test_support rtev)

rtev_add_test(server_integration_tests
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/server_ws_auth_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/server_ws_rooms_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/server_presence_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/server_ws_replay_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/server_ws_errors_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/server_ws_input_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/server_http_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/server_console_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/server_http_bad_input_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/server_sse_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/server_socketio_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/server_process_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/server_ws_lifecycle_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/server_fault_stalled_consumer_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/lifecycle_support.cpp
  LIBS rtev_test_support rtev::server)
# sign_jwt_hs256 and friends come from server-lite's private auth.hpp.
target_include_directories(server_integration_tests PRIVATE ${PROJECT_SOURCE_DIR}/server-lite/src)
target_compile_definitions(server_integration_tests PRIVATE RTEV_BINARY="$<TARGET_FILE:rtev>")
add_dependencies(server_integration_tests rtev)

# GCC 12 at -O2 reports nlohmann::json's value()/find() as "potential null pointer
# dereference" wherever inlining lands (a false positive: nlohmann/json#3525); the tests use
# json everywhere, so the warning is off for these two targets only.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(rtev_test_support PRIVATE -Wno-null-dereference)
  target_compile_options(server_integration_tests PRIVATE -Wno-null-dereference)
endif()
