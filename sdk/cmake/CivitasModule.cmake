# civitas_add_module(): builds a civitas feature module the way the gateway expects it.
#
#   civitas_add_module(<target>
#     MODULE_ID  civitas.noticeboard          # file name of the module: <MODULE_ID>.so
#     SOURCES    board.cc ...
#     PROTOS     civitas/noticeboard/v1/noticeboard.proto   # relative to PROTO_PATH
#     [PROTO_PATH dir ...]                    # import roots; the civitas proto tree is always one
#     [LIBRARIES lib ...]                     # further libraries (shared ones stay a runtime need)
#     [BUNDLE_PUBLISHER name                  # also write <MODULE_ID>.civmod (civitasctl pack)
#      [BUNDLE_LICENSE spdx] [BUNDLE_DESCRIPTION text] [BUNDLE_SIGNING_KEY file.key]])
#
# What it does:
#   - compiles the protos and everything they import (well-known types included) with protoc's
#     lite generator, once per proto file, into position-independent objects with hidden
#     visibility. Lite code registers nothing in protobuf's global descriptor pool, so two modules
#     that compile the same shared proto load side by side;
#   - embeds a FileDescriptorSet of the protos and their imports (civitas::generated::
#     kDescriptorSet), which the gateway serves as reflection;
#   - builds <target>_lib (a static library, for unit tests with the SDK's fake host) and
#     <target> (the loadable module: -fvisibility=hidden, -Wl,--no-undefined, and a version script
#     that exports civitas_module_entry_v1 only);
#   - with BUNDLE_PUBLISHER, packs the module into a bundle next to the build files, signed if a
#     BUNDLE_SIGNING_KEY is given (target <target>_bundle, part of `all`).

set(CIVITAS_SDK_DIR ${CMAKE_CURRENT_LIST_DIR}/.. CACHE INTERNAL "civitas SDK root")
if(NOT CIVITAS_MODULE_OUTPUT_DIR)
  set(CIVITAS_MODULE_OUTPUT_DIR ${CMAKE_BINARY_DIR}/lib/civitas/modules)
endif()
set(CIVITAS_LITE_GEN_DIR ${CMAKE_BINARY_DIR}/gen/lite CACHE INTERNAL "")
file(MAKE_DIRECTORY ${CIVITAS_LITE_GEN_DIR})

# Resolves the transitive closure of `protos` (relative names) into `out_var` (relative names,
# imports first is not guaranteed). Runs protoc at configure time; CMake re-runs when a listed
# proto changes.
function(_civitas_proto_closure out_var proto_path)
  set(include_args)
  foreach(dir IN LISTS proto_path)
    list(APPEND include_args -I${dir})
  endforeach()
  string(MAKE_C_IDENTIFIER "${ARGN}" tag)
  string(SHA1 tag "${tag}")
  set(dep_file ${CMAKE_BINARY_DIR}/gen/deps/${tag}.d)
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/gen/deps)
  execute_process(
    COMMAND ${Protobuf_PROTOC_EXECUTABLE} ${include_args}
            --descriptor_set_out=${dep_file}.desc --dependency_out=${dep_file} ${ARGN}
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "civitas_add_module: protoc cannot read ${ARGN}:\n${err}")
  endif()
  file(READ ${dep_file} deps)
  string(REGEX REPLACE "^[^:]*:" "" deps "${deps}")
  string(REGEX REPLACE "[\\\\\n\t ]+" ";" deps "${deps}")
  set(result)
  foreach(abs IN LISTS deps)
    if(abs STREQUAL "")
      continue()
    endif()
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${abs})
    foreach(dir IN LISTS proto_path)
      get_filename_component(dir_abs ${dir} ABSOLUTE)
      string(FIND "${abs}" "${dir_abs}/" pos)
      if(pos EQUAL 0)
        string(LENGTH "${dir_abs}/" len)
        string(SUBSTRING "${abs}" ${len} -1 rel)
        list(APPEND result ${rel})
        break()
      endif()
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES result)
  set(${out_var} ${result} PARENT_SCOPE)
endfunction()

# One object library per proto file, shared by every module that needs it.
function(_civitas_lite_proto out_target rel proto_path)
  string(MAKE_C_IDENTIFIER "civitas_lite_${rel}" target)
  set(${out_target} ${target} PARENT_SCOPE)
  if(TARGET ${target})
    return()
  endif()
  set(include_args)
  set(abs_file)
  foreach(dir IN LISTS proto_path)
    list(APPEND include_args -I${dir})
    if(NOT abs_file AND EXISTS ${dir}/${rel})
      set(abs_file ${dir}/${rel})
    endif()
  endforeach()
  string(REGEX REPLACE "\\.proto$" "" stem ${rel})
  set(gen ${CIVITAS_LITE_GEN_DIR})
  add_custom_command(
    OUTPUT ${gen}/${stem}.pb.cc ${gen}/${stem}.pb.h
    COMMAND ${Protobuf_PROTOC_EXECUTABLE} ${include_args} --cpp_out=lite:${gen} ${rel}
    DEPENDS ${abs_file}
    COMMENT "protoc (lite) ${rel}")
  add_library(${target} OBJECT ${gen}/${stem}.pb.cc)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON
                                             CXX_VISIBILITY_PRESET hidden
                                             VISIBILITY_INLINES_HIDDEN ON)
  target_include_directories(${target} SYSTEM PRIVATE ${gen})
  target_compile_options(${target} PRIVATE -w)
endfunction()

function(civitas_add_module target)
  cmake_parse_arguments(ARG "" "MODULE_ID;BUNDLE_PUBLISHER;BUNDLE_LICENSE;BUNDLE_DESCRIPTION;BUNDLE_SIGNING_KEY"
                        "SOURCES;PROTOS;PROTO_PATH;LIBRARIES" ${ARGN})
  if(NOT ARG_MODULE_ID OR NOT ARG_SOURCES OR NOT ARG_PROTOS)
    message(FATAL_ERROR "civitas_add_module(${target}): MODULE_ID, SOURCES and PROTOS are required")
  endif()
  set(proto_path ${ARG_PROTO_PATH} ${CIVITAS_PROTO_ROOT} ${Protobuf_INCLUDE_DIRS})
  list(REMOVE_DUPLICATES proto_path)

  _civitas_proto_closure(closure "${proto_path}" ${ARG_PROTOS})
  set(proto_objects)
  set(proto_headers)
  foreach(rel IN LISTS closure)
    _civitas_lite_proto(lite_target ${rel} "${proto_path}")
    list(APPEND proto_objects $<TARGET_OBJECTS:${lite_target}>)
    string(REGEX REPLACE "\\.proto$" ".pb.h" header ${rel})
    list(APPEND proto_headers ${CIVITAS_LITE_GEN_DIR}/${header})
  endforeach()

  # The embedded FileDescriptorSet.
  set(include_args)
  set(proto_files)
  foreach(dir IN LISTS proto_path)
    list(APPEND include_args -I${dir})
  endforeach()
  foreach(rel IN LISTS ARG_PROTOS)
    foreach(dir IN LISTS proto_path)
      if(EXISTS ${dir}/${rel})
        list(APPEND proto_files ${dir}/${rel})
        break()
      endif()
    endforeach()
  endforeach()
  set(desc ${CMAKE_CURRENT_BINARY_DIR}/${target}.desc)
  set(desc_cc ${CMAKE_CURRENT_BINARY_DIR}/${target}_descriptor_set.cc)
  add_custom_command(
    OUTPUT ${desc}
    COMMAND ${Protobuf_PROTOC_EXECUTABLE} ${include_args} --include_imports --include_source_info
            --descriptor_set_out=${desc} ${ARG_PROTOS}
    DEPENDS ${proto_files}
    COMMENT "descriptor set for ${ARG_MODULE_ID}")
  add_custom_command(
    OUTPUT ${desc_cc}
    COMMAND ${CMAKE_COMMAND} -DINPUT=${desc} -DOUTPUT=${desc_cc}
            -P ${CIVITAS_SDK_DIR}/cmake/EmbedDescriptorSet.cmake
    DEPENDS ${desc} ${CIVITAS_SDK_DIR}/cmake/EmbedDescriptorSet.cmake)

  # Compiled once; the module and the static library for tests share the objects.
  add_library(${target}_objects OBJECT ${ARG_SOURCES} ${desc_cc})
  # Sources include the generated headers: build them first.
  set_source_files_properties(${proto_headers} PROPERTIES GENERATED TRUE)
  target_sources(${target}_objects PRIVATE ${proto_headers})
  set_target_properties(${target}_objects PROPERTIES POSITION_INDEPENDENT_CODE ON
                                                     CXX_VISIBILITY_PRESET hidden
                                                     VISIBILITY_INLINES_HIDDEN ON)
  target_include_directories(${target}_objects PUBLIC ${CIVITAS_SDK_DIR}/include)
  target_include_directories(${target}_objects SYSTEM PUBLIC ${CIVITAS_LITE_GEN_DIR})
  target_link_libraries(${target}_objects PUBLIC protobuf::libprotobuf-lite Threads::Threads
                        ${ARG_LIBRARIES})

  add_library(${target}_lib STATIC ${proto_objects})
  target_link_libraries(${target}_lib PUBLIC ${target}_objects)

  add_library(${target} MODULE $<TARGET_OBJECTS:${target}_objects> ${proto_objects})
  target_link_libraries(${target} PRIVATE protobuf::libprotobuf-lite Threads::Threads
                        ${ARG_LIBRARIES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ${ARG_MODULE_ID}
    LIBRARY_OUTPUT_DIRECTORY ${CIVITAS_MODULE_OUTPUT_DIR}
    LINKER_LANGUAGE CXX)
  target_link_options(${target} PRIVATE -Wl,--no-undefined
                      -Wl,--version-script=${CIVITAS_SDK_DIR}/cmake/module.map)
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${CIVITAS_SDK_DIR}/cmake/module.map)

  if(ARG_BUNDLE_PUBLISHER)
    if(TARGET civitasctl)
      set(ctl $<TARGET_FILE:civitasctl>)
      set(ctl_dep civitasctl)
    else()
      find_program(CIVITAS_CTL civitasctl REQUIRED)
      set(ctl ${CIVITAS_CTL})
      set(ctl_dep)
    endif()
    set(bundle ${CMAKE_CURRENT_BINARY_DIR}/${ARG_MODULE_ID}.civmod)
    set(sign_command)
    if(ARG_BUNDLE_SIGNING_KEY)
      set(sign_command COMMAND ${ctl} module sign ${bundle} --key ${ARG_BUNDLE_SIGNING_KEY})
    endif()
    add_custom_command(
      OUTPUT ${bundle}
      COMMAND ${ctl} module pack $<TARGET_FILE:${target}> --publisher ${ARG_BUNDLE_PUBLISHER}
              --license "${ARG_BUNDLE_LICENSE}" --description "${ARG_BUNDLE_DESCRIPTION}"
              --out ${bundle}
      ${sign_command}
      DEPENDS ${target} ${ctl_dep}
      COMMENT "bundle ${ARG_MODULE_ID}.civmod"
      VERBATIM)
    add_custom_target(${target}_bundle ALL DEPENDS ${bundle})
  endif()
endfunction()
