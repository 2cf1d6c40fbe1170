# The formats layer parses untrusted bytes, so its tests also run under AddressSanitizer and
# UBSan: the formats sources and tests are compiled again with instrumentation (the regular
# smol_formats library stays uninstrumented).
get_filename_component(smol_formats_root "${CMAKE_CURRENT_LIST_DIR}/../.." REALPATH)
file(GLOB smol_formats_sanitized_sources CONFIGURE_DEPENDS "${smol_formats_root}/src/formats/*.cpp")
set(smol_formats_sanitize_flags -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
add_executable(test_formats_sanitized ${smol_formats_sanitized_sources})
target_include_directories(test_formats_sanitized PRIVATE "${smol_formats_root}/include" "${smol_formats_root}/src")
target_compile_options(test_formats_sanitized PRIVATE ${smol_formats_sanitize_flags} -O1 -g)
target_link_options(test_formats_sanitized PRIVATE ${smol_formats_sanitize_flags})
target_link_libraries(test_formats_sanitized PRIVATE GTest::gtest GTest::gtest_main nlohmann_json::nlohmann_json fmt::fmt
  PkgConfig::ZLIB)
target_compile_definitions(test_formats_sanitized PRIVATE
  SMOL_SHARED_DIR="${SMOL_SHARED_DIR}" SMOL_SOURCE_DIR="${smol_formats_root}"
  SMOL_BINARY="${CMAKE_BINARY_DIR}/smol")
# One process for the whole suite: per-test processes would pay the instrumented start-up and
# fixture copies ~120 times over.
add_test(NAME formats_sanitized COMMAND test_formats_sanitized)
set_tests_properties(formats_sanitized PROPERTIES LABELS sanitize TIMEOUT 300
  ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1;UBSAN_OPTIONS=print_stacktrace=1")
