# Findlibev: libev, the event loop `rtev serve --event-loop epoll` runs libwebsockets on
# (Debian: libev-dev; at run time lws loads its libev plugin, libwebsockets-evlib-ev). libev
# ships no pkg-config file, so the header and library are searched for by name. Defines the
# imported target libev::libev and libev_FOUND.
find_path(libev_INCLUDE_DIR NAMES ev.h)
find_library(libev_LIBRARY NAMES ev)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(libev
  REQUIRED_VARS libev_LIBRARY libev_INCLUDE_DIR
  REASON_FAILURE_MESSAGE "install libev-dev (./dev build does)")
mark_as_advanced(libev_INCLUDE_DIR libev_LIBRARY)

if(libev_FOUND AND NOT TARGET libev::libev)
  add_library(libev::libev UNKNOWN IMPORTED)
  set_target_properties(libev::libev PROPERTIES
    IMPORTED_LOCATION "${libev_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${libev_INCLUDE_DIR}")
endif()
