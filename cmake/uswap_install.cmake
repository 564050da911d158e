# What `cmake --install` puts on a system: the public headers, libuswap.so
# (SONAME libuswap.so.MAJOR.MINOR: before 1.0 every minor release may change
# the ABI) and libuswap.a, each holding every layer (base ... api) so that a
# program links one library, the `uswap` CLI, a CMake package
# (find_package(uswap) -> uswap::uswap, uswap::uswap_static) and uswap.pc.
# tests/install checks all of it from a temporary prefix.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The objects of every layer, compiled once for the in-tree libraries.
set(_uswap_objects "")
foreach(layer uswap_base uswap_io uswap_swap_header uswap_swap uswap_policy uswap_mm uswap_fault uswap)
  list(APPEND _uswap_objects $<TARGET_OBJECTS:${layer}>)
endforeach()

add_library(uswap_shared SHARED ${_uswap_objects})
add_library(uswap_static STATIC ${_uswap_objects})
set_target_properties(uswap_shared PROPERTIES
  OUTPUT_NAME uswap EXPORT_NAME uswap LINKER_LANGUAGE CXX
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
set_target_properties(uswap_static PROPERTIES
  OUTPUT_NAME uswap EXPORT_NAME uswap_static LINKER_LANGUAGE CXX)
foreach(t uswap_shared uswap_static)
  # The shared library records its dependencies itself (DT_NEEDED); the
  # static one hands them on to its users ($<LINK_ONLY>).
  target_link_libraries(${t} PRIVATE ${USWAP_EXTERNAL_LIBS})
  target_include_directories(${t} INTERFACE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${t} INTERFACE cxx_std_20)
endforeach()

install(TARGETS uswap_shared uswap_static EXPORT uswapTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/uswap DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET uswap_cli)
  install(TARGETS uswap_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(_uswap_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/uswap)
install(EXPORT uswapTargets NAMESPACE uswap:: DESTINATION ${_uswap_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/uswapConfig.cmake.in
  ${PROJECT_BINARY_DIR}/uswapConfig.cmake INSTALL_DESTINATION ${_uswap_cmake_dir})
# 0.x: only the same minor release is compatible (find_package(uswap 0.2)).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/uswapConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/uswapConfig.cmake ${PROJECT_BINARY_DIR}/uswapConfigVersion.cmake
  DESTINATION ${_uswap_cmake_dir})

# uswap.pc, relocatable: its prefix is found from its own place
# (${pcfiledir}), so `cmake --install --prefix P` needs no reconfiguring.
file(RELATIVE_PATH USWAP_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
set(USWAP_PC_LIBS_PRIVATE "-pthread")
if(HAVE_LIBURING)
  string(APPEND USWAP_PC_LIBS_PRIVATE " -luring")
endif()
if(HAVE_XXHASH)
  string(APPEND USWAP_PC_LIBS_PRIVATE " -lxxhash")
endif()
if(HAVE_OPENSSL)
  string(APPEND USWAP_PC_LIBS_PRIVATE " -lcrypto")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/uswap.pc.in ${PROJECT_BINARY_DIR}/uswap.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/uswap.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
