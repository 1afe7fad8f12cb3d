# Helpers for building Orrery's bare-metal x86 guest programs (Multiboot 1
# ELF32 images for -M pc -kernel) with the host gcc and nasm. Shared by
# tests/guest/x86 and bench/ so there is one copy of the runtime (crt32.asm,
# crt64.asm, rt.c, link.ld) and of the compiler flags.
#
#   orrery_x86_guest_find_toolchain()  -> sets ORRERY_X86_GUEST_OK (or clears it)
#   orrery_x86_guest_program(NAME MODE 32|64 SOURCES a.c [b.asm...]
#                            [DEPENDS headers...] [DEFINES X=1...])
#       -> builds ${CMAKE_CURRENT_BINARY_DIR}/NAME.elf, sets NAME_ELF
#          (parent scope) to its path.
#
# ORRERY_X86_GUEST_EXTRA_CFLAGS and ORRERY_X86_GUEST_NASM_FLAGS (variables
# of the calling directory) are added to the runtime's and the programs'
# gcc and nasm flags there (e.g. -mgeneral-regs-only and -DRT_NO_X87, which
# leaves out the runtime's FNINIT); the runtime is built once per directory
# and mode.

set(ORRERY_X86_GUEST_DIR ${CMAKE_CURRENT_LIST_DIR})

# Output must not depend on code generation: check with another level.
set(ORRERY_X86_GUEST_OPT -O2 CACHE STRING
    "Optimisation level for the x86 guest programs")

macro(orrery_x86_guest_find_toolchain)
    set(ORRERY_X86_GUEST_OK FALSE)
    find_program(ORRERY_X86_NASM nasm)
    find_program(ORRERY_X86_GCC gcc)
    find_program(ORRERY_X86_OBJCOPY objcopy)
    if(NOT ORRERY_X86_NASM OR NOT ORRERY_X86_GCC OR NOT ORRERY_X86_OBJCOPY)
        message(WARNING "nasm, gcc or objcopy not found: skipping x86 guest "
                        "programs")
    else()
        execute_process(COMMAND ${ORRERY_X86_GCC} -m32 -print-libgcc-file-name
                        OUTPUT_VARIABLE _orrery_libgcc32
                        RESULT_VARIABLE _orrery_rc
                        OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
        if(NOT _orrery_rc EQUAL 0 OR NOT EXISTS "${_orrery_libgcc32}")
            message(WARNING "gcc -m32 support (gcc-multilib) not found: "
                            "skipping x86 guest programs")
        else()
            set(ORRERY_X86_GUEST_OK TRUE)
        endif()
    endif()
endmacro()

function(_orrery_x86_guest_flags mode out_var)
    set(flags ${ORRERY_X86_GUEST_OPT} -g -ffreestanding -fno-builtin -fno-pic
        -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables
        -fno-unwind-tables -fcf-protection=none -Wall -Wextra
        -I${ORRERY_X86_GUEST_DIR} ${ORRERY_X86_GUEST_EXTRA_CFLAGS})
    if(mode STREQUAL 32)
        set(${out_var} -m32 -march=i686 ${flags} PARENT_SCOPE)
    else()
        # No red zone: traps at CPL 0 push their frame on the interrupted
        # stack.
        set(${out_var} -m64 -mno-red-zone ${flags} PARENT_SCOPE)
    endif()
endfunction()

# The runtime, once per directory and mode. rt.c is built without
# loop-distribution so memcpy/memset do not become calls to themselves.
function(_orrery_x86_guest_runtime mode out_var)
    set(src ${ORRERY_X86_GUEST_DIR})
    set(dir ${CMAKE_CURRENT_BINARY_DIR}/rt)
    set(crt_o ${dir}/crt${mode}.o)
    set(rt_o ${dir}/rt${mode}.o)
    get_property(defined DIRECTORY PROPERTY ORRERY_X86_GUEST_RT${mode})
    if(NOT defined)
        set_property(DIRECTORY PROPERTY ORRERY_X86_GUEST_RT${mode} TRUE)
        _orrery_x86_guest_flags(${mode} cflags)
        add_custom_command(
            OUTPUT ${crt_o}
            COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
            COMMAND ${ORRERY_X86_NASM} -f elf${mode} -I${src}/
                    ${ORRERY_X86_GUEST_NASM_FLAGS} ${src}/crt${mode}.asm -o ${crt_o}
            DEPENDS ${src}/crt${mode}.asm ${src}/gdt.inc
            COMMENT "Assembling x86 crt${mode}.asm" VERBATIM)
        add_custom_command(
            OUTPUT ${rt_o}
            COMMAND ${CMAKE_COMMAND} -E make_directory ${dir}
            COMMAND ${ORRERY_X86_GCC} ${cflags}
                    -fno-tree-loop-distribute-patterns
                    -c ${src}/rt.c -o ${rt_o}
            DEPENDS ${src}/rt.c ${src}/rt.h ${src}/gdt.inc ${src}/link.ld ${src}/../common/libc.c
            COMMENT "Compiling x86 rt.c (${mode}-bit)" VERBATIM)
    endif()
    set(${out_var} ${crt_o} ${rt_o} PARENT_SCOPE)
endfunction()

function(orrery_x86_guest_program name)
    cmake_parse_arguments(ARG "" "MODE" "SOURCES;DEPENDS;DEFINES" ${ARGN})
    set(src ${ORRERY_X86_GUEST_DIR})
    set(out ${CMAKE_CURRENT_BINARY_DIR})
    _orrery_x86_guest_flags(${ARG_MODE} cflags)
    _orrery_x86_guest_runtime(${ARG_MODE} rt_objs)
    foreach(d IN LISTS ARG_DEFINES)
        list(APPEND cflags -D${d})
    endforeach()
    set(objs)
    foreach(source IN LISTS ARG_SOURCES)
        get_filename_component(base ${source} NAME_WE)
        get_filename_component(ext ${source} LAST_EXT)
        if(ext STREQUAL ".asm")
            set(obj ${out}/obj/${name}_${base}_asm.o)
            get_filename_component(asm_dir ${source} DIRECTORY)
            add_custom_command(
                OUTPUT ${obj}
                COMMAND ${CMAKE_COMMAND} -E make_directory ${out}/obj
                COMMAND ${ORRERY_X86_NASM} -f elf${ARG_MODE} -I${src}/
                        -I${asm_dir}/ ${ORRERY_X86_GUEST_NASM_FLAGS} ${source} -o ${obj}
                DEPENDS ${source} ${src}/gdt.inc
                COMMENT "Assembling x86 guest ${name} (${base}.asm)" VERBATIM)
        else()
            set(obj ${out}/obj/${name}_${base}.o)
            add_custom_command(
                OUTPUT ${obj}
                COMMAND ${CMAKE_COMMAND} -E make_directory ${out}/obj
                COMMAND ${ORRERY_X86_GCC} ${cflags} -c ${source} -o ${obj}
                DEPENDS ${source} ${src}/rt.h ${ARG_DEPENDS}
                COMMENT "Compiling x86 guest ${name}" VERBATIM)
        endif()
        list(APPEND objs ${obj})
    endforeach()

    set(ldflags -nostdlib -static -no-pie -T ${src}/link.ld
        -Wl,--build-id=none -Wl,--no-warn-rwx-segments -Wl,-z,noexecstack)
    set(elf ${out}/${name}.elf)
    if(ARG_MODE STREQUAL 32)
        add_custom_command(
            OUTPUT ${elf}
            COMMAND ${ORRERY_X86_GCC} -m32 ${ldflags} ${rt_objs} ${objs} -lgcc
                    -o ${elf}
            DEPENDS ${rt_objs} ${objs} ${src}/link.ld
            COMMENT "Linking x86 guest ${name}.elf" VERBATIM)
    else()
        # -kernel takes ELF32 only: link as ELF64, then convert.
        add_custom_command(
            OUTPUT ${elf}
            COMMAND ${ORRERY_X86_GCC} -m64 ${ldflags} ${rt_objs} ${objs} -lgcc
                    -o ${elf}64
            COMMAND ${ORRERY_X86_OBJCOPY} -O elf32-i386 ${elf}64 ${elf}
            DEPENDS ${rt_objs} ${objs} ${src}/link.ld
            COMMENT "Linking x86 guest ${name}.elf" VERBATIM)
    endif()
    set(${name}_ELF ${elf} PARENT_SCOPE)
endfunction()
