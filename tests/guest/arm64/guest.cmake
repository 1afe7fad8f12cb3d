# Helpers for building Orrery's bare-metal AArch64 guest programs with the
# cross gcc. Shared by tests/guest/arm64 and bench/ so there is exactly one
# copy of the runtime (crt0.S, rt.c, link.ld) and of the compiler flags.
#
#   orrery_guest_find_toolchain()      -> sets ORRERY_GUEST_CC (or clears it)
#   orrery_guest_program(NAME SOURCES a.c [b.c...] [DEFINES X=1...])
#       -> builds ${CMAKE_CURRENT_BINARY_DIR}/NAME.elf, sets NAME_ELF
#          (parent scope) to its path.

set(ORRERY_GUEST_DIR ${CMAKE_CURRENT_LIST_DIR})

# No -mgeneral-regs-only: crt0 enables FP/SIMD, and gcc's SIMD use is part
# of what the emulator must run. -mstrict-align because with the MMU off
# all data accesses are Device memory, where unaligned accesses fault on
# hardware. -mno-outline-atomics keeps atomics as inline LDXR/STXR loops
# instead of libgcc helpers that need the (absent) C library.
# -fno-math-errno lets sqrt/fma/floor become single instructions rather
# than libm calls.
set(ORRERY_GUEST_CFLAGS
    -march=armv8-a -mtune=cortex-a57 -O2 -g
    -ffreestanding -fno-builtin -fno-pie -fno-stack-protector
    -fno-asynchronous-unwind-tables -fno-unwind-tables
    -mstrict-align -mno-outline-atomics -fno-math-errno
    -Wall -Wextra
    -I${ORRERY_GUEST_DIR})
set(ORRERY_GUEST_LDFLAGS
    -nostdlib -nostartfiles -static -no-pie
    -T ${ORRERY_GUEST_DIR}/link.ld
    -Wl,--build-id=none -Wl,--no-warn-rwx-segments)

macro(orrery_guest_find_toolchain)
    find_program(ORRERY_GUEST_CC aarch64-linux-gnu-gcc)
endmacro()

# Compiles the runtime once per directory that uses it.
function(_orrery_guest_runtime out_var)
    set(dir ${CMAKE_CURRENT_BINARY_DIR}/guest_rt)
    set(crt0_o ${dir}/crt0.o)
    set(rt_o ${dir}/rt.o)
    get_property(defined DIRECTORY PROPERTY ORRERY_GUEST_RT_DEFINED)
    if(NOT defined)
        set_property(DIRECTORY PROPERTY ORRERY_GUEST_RT_DEFINED TRUE)
        add_custom_command(
            OUTPUT ${crt0_o}
            COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
            COMMAND ${ORRERY_GUEST_CC} ${ORRERY_GUEST_CFLAGS}
                    -c ${ORRERY_GUEST_DIR}/crt0.S -o ${crt0_o}
            DEPENDS ${ORRERY_GUEST_DIR}/crt0.S
            COMMENT "Assembling guest crt0.S"
            VERBATIM)
        # The loop-distribution pass would rewrite memcpy/memset's own
        # loops into calls to memcpy/memset.
        add_custom_command(
            OUTPUT ${rt_o}
            COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
            COMMAND ${ORRERY_GUEST_CC} ${ORRERY_GUEST_CFLAGS}
                    -fno-tree-loop-distribute-patterns
                    -c ${ORRERY_GUEST_DIR}/rt.c -o ${rt_o}
            DEPENDS ${ORRERY_GUEST_DIR}/rt.c ${ORRERY_GUEST_DIR}/rt.h
                    ${ORRERY_GUEST_DIR}/../common/libc.c
            COMMENT "Compiling guest rt.c"
            VERBATIM)
    endif()
    set(${out_var} ${crt0_o} ${rt_o} PARENT_SCOPE)
endfunction()

function(orrery_guest_program name)
    cmake_parse_arguments(ARG "" "" "SOURCES;DEFINES" ${ARGN})
    _orrery_guest_runtime(rt_objs)
    set(elf ${CMAKE_CURRENT_BINARY_DIR}/${name}.elf)
    set(defines)
    foreach(d IN LISTS ARG_DEFINES)
        list(APPEND defines -D${d})
    endforeach()
    add_custom_command(
        OUTPUT ${elf}
        COMMAND ${ORRERY_GUEST_CC} ${ORRERY_GUEST_CFLAGS} ${defines}
                ${ARG_SOURCES} ${rt_objs} ${ORRERY_GUEST_LDFLAGS} -lgcc
                -o ${elf}
        DEPENDS ${ARG_SOURCES} ${rt_objs} ${ORRERY_GUEST_DIR}/rt.h
                ${ORRERY_GUEST_DIR}/link.ld
        COMMENT "Building guest program ${name}.elf"
        VERBATIM)
    set(${name}_ELF ${elf} PARENT_SCOPE)
endfunction()
