# cmake -DSOURCE=... -DBINARY=... -DROOT=... -P standalone_build_test.cmake
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE} -B ${BINARY} -G Ninja
                        -DCIVITAS_ROOT=${ROOT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "standalone configure failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "standalone build failed")
endif()
execute_process(COMMAND nm -D --defined-only ${BINARY}/modules/civitas.noticeboard.so
                OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
string(REGEX MATCHALL " [TDBR] [^\n]+" exported "${symbols}")
if(NOT rc EQUAL 0 OR NOT exported STREQUAL " T civitas_module_entry_v1")
  message(FATAL_ERROR "the module must export civitas_module_entry_v1 only; it exports:${exported}")
endif()
message(STATUS "standalone module built; exports: ${exported}")
