# Warnings live on a non-exported INTERFACE target that rtev's own targets link privately,
# so consumers of the installed package never inherit them.
add_library(rtev_warnings INTERFACE)
target_compile_options(rtev_warnings INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wformat=2>)
if(RTEV_WARNINGS_AS_ERRORS)
  target_compile_options(rtev_warnings INTERFACE $<$<CXX_COMPILER_ID:GNU,Clang>:-Werror>)
endif()
