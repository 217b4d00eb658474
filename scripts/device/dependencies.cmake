# The GPU machine's dependencies for the project's own CMakeLists.txt: a CMake dependency
# provider (CMAKE_PROJECT_TOP_LEVEL_INCLUDES, scripts/device/run.sh) that answers the project's
# find_package calls for what that machine lacks (it has PyTorch 2.x, CMake, g++, zlib, no -dev
# packages) from what scripts/device/bundle copied into .devbuild/deps: fmt (header-only), CLI11
# and googletest's sources, Debian's protobuf, yaml-cpp and libpng as static libraries, protoc.
# Torch, ZLIB and Threads, and anything else, fall through to CMake's own search.
set(LIGHTNING_DEVICE_DEPS "${CMAKE_CURRENT_LIST_DIR}/../../.devbuild/deps")
cmake_path(NORMAL_PATH LIGHTNING_DEVICE_DEPS)
if(NOT EXISTS "${LIGHTNING_DEVICE_DEPS}/sys/bin/protoc")
  message(FATAL_ERROR "${LIGHTNING_DEVICE_DEPS} is incomplete: run scripts/device/bundle on the development machine "
                      "and carry .devbuild to this one")
endif()

function(lightning_device_static_library target library)
  add_library(${target} STATIC IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES
    IMPORTED_LOCATION "${LIGHTNING_DEVICE_DEPS}/sys/lib/${library}"
    INTERFACE_INCLUDE_DIRECTORIES "${LIGHTNING_DEVICE_DEPS}/sys/include"
    INTERFACE_LINK_LIBRARIES "${ARGN}")
endfunction()

# A macro: the <Package>_FOUND and result variables it sets land in find_package's caller's scope.
macro(lightning_device_dependency method package)
  if("${package}" STREQUAL "fmt" AND NOT TARGET fmt::fmt)
    # Header-only: no compiled library whose C++ ABI would have to match the LibTorch there.
    add_library(fmt::fmt INTERFACE IMPORTED GLOBAL)
    set_target_properties(fmt::fmt PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${LIGHTNING_DEVICE_DEPS}/include"
                                              INTERFACE_COMPILE_DEFINITIONS FMT_HEADER_ONLY)
    set(fmt_FOUND TRUE)
  elseif("${package}" STREQUAL "CLI11" AND NOT TARGET CLI11::CLI11)
    add_library(CLI11::CLI11 INTERFACE IMPORTED GLOBAL)
    set_target_properties(CLI11::CLI11 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${LIGHTNING_DEVICE_DEPS}/include")
    set(CLI11_FOUND TRUE)
  elseif("${package}" STREQUAL "yaml-cpp" AND NOT TARGET yaml-cpp)
    lightning_device_static_library(yaml-cpp libyaml-cpp.a)
    set(yaml-cpp_FOUND TRUE)
  elseif("${package}" STREQUAL "PNG" AND NOT TARGET PNG::PNG)
    lightning_device_static_library(PNG::PNG libpng16.a ZLIB::ZLIB m)
    set(PNG_FOUND TRUE)
  elseif("${package}" STREQUAL "Protobuf" AND NOT TARGET protobuf::libprotobuf)
    lightning_device_static_library(protobuf::libprotobuf libprotobuf.a Threads::Threads)
    # A wrapper that finds protoc's own shared libraries beside the static ones (bundle).
    set(Protobuf_PROTOC_EXECUTABLE "${LIGHTNING_DEVICE_DEPS}/sys/bin/protoc")
    add_executable(protobuf::protoc IMPORTED GLOBAL)
    set_target_properties(protobuf::protoc PROPERTIES IMPORTED_LOCATION "${Protobuf_PROTOC_EXECUTABLE}")
    set(Protobuf_INCLUDE_DIR "${LIGHTNING_DEVICE_DEPS}/sys/include")
    set(Protobuf_LIBRARY "${LIGHTNING_DEVICE_DEPS}/sys/lib/libprotobuf.a")
    set(Protobuf_FOUND TRUE)
  elseif("${package}" STREQUAL "GTest" AND NOT TARGET GTest::gtest)
    # Compiled here, with the flags and C++ ABI of this build.
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
    add_subdirectory("${LIGHTNING_DEVICE_DEPS}/googletest" "${CMAKE_BINARY_DIR}/googletest" EXCLUDE_FROM_ALL)
    if(NOT TARGET GTest::gtest)  # googletest 1.11 and older name it gtest only
      add_library(GTest::gtest ALIAS gtest)
    endif()
    set(GTest_FOUND TRUE)
  endif()
endmacro()
cmake_language(SET_DEPENDENCY_PROVIDER lightning_device_dependency SUPPORTED_METHODS FIND_PACKAGE)
