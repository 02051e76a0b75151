# cmake -DINPUT=<file.desc> -DOUTPUT=<file.cc> [-DLANG=C] -P EmbedDescriptorSet.cmake
# Writes the module's FileDescriptorSet as the byte array module.h declares, or, with LANG=C, as
# `civitas_descriptor_set` / `civitas_descriptor_set_size` for modules written in C.
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
if(LANG STREQUAL "C")
  file(WRITE ${OUTPUT}.tmp "/* Generated from ${INPUT}. Do not edit. */
#include <stddef.h>
const unsigned char civitas_descriptor_set[] = {
${bytes}
};
const size_t civitas_descriptor_set_size = ${size};
")
  file(RENAME ${OUTPUT}.tmp ${OUTPUT})
  return()
endif()
file(WRITE ${OUTPUT}.tmp "// Generated from ${INPUT}. Do not edit.
#include <cstddef>
namespace civitas::generated {
extern const unsigned char kDescriptorSet[];
extern const size_t kDescriptorSetSize;
const unsigned char kDescriptorSet[] = {
${bytes}
};
const size_t kDescriptorSetSize = ${size};
}  // namespace civitas::generated
")
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
