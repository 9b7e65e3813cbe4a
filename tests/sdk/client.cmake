# rtev::client integration tests: the SDK client against the real server (rtev::server
# in-process on 127.0.0.1, port 0), with a TCP proxy in between where a test needs to freeze
# or cut the link. Included from tests/CMakeLists.txt.

# The raw-socket helpers are compiled here too (not taken from server/integration.cmake's
# rtev_test_support) so this suite builds whether or not that fragment is present.
add_library(rtev_client_test_support STATIC
  ${CMAKE_CURRENT_LIST_DIR}/../support/tcp_proxy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../support/tcp_stream.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../support/ws_client.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../support/http_client.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../support/rtev_client.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../support/local_server.cpp)
target_include_directories(rtev_client_test_support PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(rtev_client_test_support
  PUBLIC rtev::server nlohmann_json::nlohmann_json Threads::Threads
  PRIVATE rtev_warnings)
target_compile_features(rtev_client_test_support PUBLIC cxx_std_17)

rtev_add_test(client_tests
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/client_proxy_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/client_connection_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/client_recovery_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/client_subscription_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/client_requests_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/client_typed_requests_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/client_sse_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/client_presence_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/client_lifetime_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/client_app_thread_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/client_room_subscription_test.cpp
  LIBS rtev::sdk rtev::server rtev_client_test_support)
# sign_jwt_hs256 (expired and refreshed JWTs for the token provider tests) comes from
# server-lite's private auth.hpp; it is compiled into rtev::server.
target_include_directories(client_tests PRIVATE ${PROJECT_SOURCE_DIR}/server-lite/src)

# GCC 12 at -O2 reports nlohmann::json's value()/find() as "potential null pointer
# dereference" wherever inlining lands (a false positive: nlohmann/json#3525).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(rtev_client_test_support PRIVATE -Wno-null-dereference)
  target_compile_options(client_tests PRIVATE -Wno-null-dereference)
endif()

# rtev::client over Socket.IO against a real Node `socket.io` server (the pinned packages in
# tests/interop/node_modules); skipped with a note when Node or the packages are missing.
find_program(RTEV_NODE_FOR_SIO node)
if(RTEV_NODE_FOR_SIO AND EXISTS ${PROJECT_SOURCE_DIR}/tests/interop/node_modules/socket.io)
  rtev_add_test(client_socketio_tests
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_socketio_test.cpp
    LIBS rtev::sdk rtev_client_test_support)
  target_compile_definitions(client_socketio_tests PRIVATE
    RTEV_NODE="${RTEV_NODE_FOR_SIO}"
    RTEV_SIO_TEST_SERVER="${CMAKE_CURRENT_LIST_DIR}/socketio_test_server.js"
    RTEV_NODE_MODULES="${PROJECT_SOURCE_DIR}/tests/interop/node_modules")
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(client_socketio_tests PRIVATE -Wno-null-dereference)
  endif()
else()
  message(STATUS "rtev: node or tests/interop/node_modules/socket.io missing: Socket.IO client tests skipped")
endif()

# rtev::client against a WebSocket server that does not speak rtev's protocol: a FastAPI-style
# Node `ws` server (tests/interop/foreign_ws_server.js, packages pinned in tests/interop).
if(RTEV_NODE_FOR_SIO AND EXISTS ${PROJECT_SOURCE_DIR}/tests/interop/node_modules/ws)
  rtev_add_test(client_foreign_ws_tests
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_foreign_ws_test.cpp
    LIBS rtev::sdk rtev_client_test_support)
  target_compile_definitions(client_foreign_ws_tests PRIVATE
    RTEV_NODE="${RTEV_NODE_FOR_SIO}"
    RTEV_FOREIGN_WS_SERVER="${PROJECT_SOURCE_DIR}/tests/interop/foreign_ws_server.js"
    RTEV_NODE_MODULES="${PROJECT_SOURCE_DIR}/tests/interop/node_modules")
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(client_foreign_ws_tests PRIVATE -Wno-null-dereference)
  endif()
else()
  message(STATUS "rtev: node or tests/interop/node_modules/ws missing: foreign WebSocket client tests skipped")
endif()
