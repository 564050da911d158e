# uswap_add_test(NAME SOURCES a.cc b.cc LIBS lib... [LABELS l...] [TIMEOUT s])
# One GoogleTest binary per call, registered with ctest under NAME.
function(uswap_add_test name)
  if(NOT USWAP_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} uswap_private GTest::gtest GTest::gtest_main)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
endfunction()

# uswap_split_debug(target): moves the debug information of `target` into
# a file beside it (NAME.debug, found by gdb through .gnu_debuglink) after
# every link. For what runs in every process of a `uswap run` tree (the
# shim) or starts it (the CLI): with debug info they are 16-24 MiB, and on
# a disk with a large read-ahead (this project's machines: 8 MiB on vda)
# the kernel's mmap read-around pulls most of each file into the page
# cache, charged to the program's memory cgroup: 29 MiB more peak for xz
# under `uswap run` at 0200b6e (doc/run.md). Not in sanitizer builds,
# whose reports symbolize from the binary itself.
function(uswap_split_debug target)
  if(NOT CMAKE_OBJCOPY OR NOT USWAP_SANITIZE STREQUAL "")
    return()
  endif()
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_OBJCOPY} --only-keep-debug $<TARGET_FILE_NAME:${target}>
            $<TARGET_FILE_NAME:${target}>.debug
    COMMAND ${CMAKE_OBJCOPY} --strip-debug
            --add-gnu-debuglink=$<TARGET_FILE_NAME:${target}>.debug
            $<TARGET_FILE_NAME:${target}>
    WORKING_DIRECTORY $<TARGET_FILE_DIR:${target}>
    COMMENT "uswap: the debug information of ${target} to a .debug file beside it"
    VERBATIM)
endfunction()
