# Findjq: libjq, the library behind the jq command (Debian: libjq-dev). Defines the imported
# target jq::jq and jq_FOUND.
#
# jq 1.7 ships a pkg-config file (libjq.pc); Debian bookworm's jq 1.6 ships none, only jq.h,
# jv.h and libjq.so. So pkg-config is asked first and the header and library are searched for
# by name otherwise.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_JQ QUIET libjq)
endif()

find_path(jq_INCLUDE_DIR NAMES jq.h HINTS ${PC_JQ_INCLUDE_DIRS})
find_library(jq_LIBRARY NAMES jq HINTS ${PC_JQ_LIBRARY_DIRS})
set(jq_VERSION ${PC_JQ_VERSION})

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(jq
  REQUIRED_VARS jq_LIBRARY jq_INCLUDE_DIR
  VERSION_VAR jq_VERSION
  REASON_FAILURE_MESSAGE "install libjq-dev (./dev build does)")
mark_as_advanced(jq_INCLUDE_DIR jq_LIBRARY)

if(jq_FOUND AND NOT TARGET jq::jq)
  add_library(jq::jq UNKNOWN IMPORTED)
  set_target_properties(jq::jq PROPERTIES
    IMPORTED_LOCATION "${jq_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${jq_INCLUDE_DIR}")
endif()
