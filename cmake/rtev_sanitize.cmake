# RTEV_SANITIZE=address,undefined | thread: applied to every target of this build (the
# sanitizer runtime has to see the whole program), and never exported to consumers.
if(RTEV_SANITIZE)
  if(RTEV_SANITIZE MATCHES "thread" AND RTEV_SANITIZE MATCHES "address")
    message(FATAL_ERROR "RTEV_SANITIZE: 'thread' cannot be combined with 'address' (got '${RTEV_SANITIZE}')")
  endif()
  set(_rtev_san_flags -fsanitize=${RTEV_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_compile_options(${_rtev_san_flags})
  add_link_options(-fsanitize=${RTEV_SANITIZE})
  message(STATUS "rtev: building with -fsanitize=${RTEV_SANITIZE}")
endif()
