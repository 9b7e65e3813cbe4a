# The product catalog is optional: rtev/client.hpp (and rtev/typed_event.hpp, which it
# includes) must not pull in rtev/events.hpp or rtev/catalog.hpp, while rtev/events.hpp does
# build on rtev/typed_event.hpp. Checked on the preprocessor's list of included files.
# usage: cmake -DCXX=<compiler> -DSDK_INCLUDE=<sdk/include> -P header_deps.cmake
function(included_headers header out)
  execute_process(COMMAND ${CXX} -std=c++17 -M -I${SDK_INCLUDE} -x c++ ${SDK_INCLUDE}/${header}
                  OUTPUT_VARIABLE deps ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${header} does not preprocess:\n${err}")
  endif()
  set(${out} "${deps}" PARENT_SCOPE)
endfunction()

function(expect header included wanted)
  included_headers(${header} deps)
  string(FIND "${deps}" "/rtev/${included}" at)
  if(wanted AND at EQUAL -1)
    message(FATAL_ERROR "FAIL: ${header} should include rtev/${included}")
  elseif(NOT wanted AND NOT at EQUAL -1)
    message(FATAL_ERROR "FAIL: ${header} includes rtev/${included}:\n${deps}")
  endif()
  message(STATUS "ok - ${header} ${wanted} rtev/${included}")
endfunction()

expect(rtev/client.hpp typed_event.hpp TRUE)
foreach(header rtev/client.hpp rtev/typed_event.hpp)
  expect(${header} events.hpp FALSE)
  expect(${header} catalog.hpp FALSE)
endforeach()
expect(rtev/events.hpp typed_event.hpp TRUE)
