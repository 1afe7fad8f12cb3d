# Turns an AML file into a C++ header holding it as a constexpr std::array, so the board gets
# its DSDT without reading files at run time. Usage:
#   cmake -DINPUT=dsdt.aml -DOUTPUT=dsdt_aml.h -DNAME=kDsdtAml -P embed_aml.cmake
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# Twelve bytes a line keeps the header readable.
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){12})" "\\1\n    " bytes "${bytes}")
file(WRITE ${OUTPUT}.tmp
"// Generated from ${INPUT} by firmware/embed_aml.cmake; do not edit.
#pragma once

#include <array>
#include <cstdint>

namespace orrery::firmware {

inline constexpr std::array<uint8_t, ${size}> ${NAME} = {
    ${bytes}
};

}  // namespace orrery::firmware
")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
