// An x86 bzImage's compressed payload decompressed on the host, so that the boot CPU enters the
// kernel proper (startup_64 in arch/x86/kernel/head_64.S, "directly from a 64bit bootloader")
// instead of running the kernel's own decompressor (arch/x86/boot/compressed) as guest code.
//  - The payload (setup header payload_offset/payload_length, protocol 2.08+) is the stripped
//    vmlinux ELF plus its KASLR relocation table, compressed, followed by the uncompressed size
//    as a little-endian u32 (for gzip that is the stream's own ISIZE). That size, bounded by
//    init_size (the kernel's own output buffer), sizes the one output buffer.
//  - The ELF must be an x86-64 ELF64 executable whose PT_LOADs lie, by p_paddr, inside
//    [pref_address, pref_address + init_size) and inside the decompressed data, with e_entry (a
//    physical address) in one of them. The board copies them to their p_paddr, as the kernel's
//    parse_elf does without KASLR: nothing relocates the kernel, so KASLR is off on this path.
//  - Formats the host lacks a library for (bzip2, LZMA, LZO, LZ4) and every failed check leave
//    the guest's own decompressor to run, as before.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "machine/loader/elf.h"

namespace orrery::machine::loader {

/// The compressions Linux's arch/x86/boot/compressed can use (lib/decompress.c's magics).
enum class PayloadFormat : uint8_t { Unknown, Gzip, Bzip2, Lzma, Xz, Lzo, Lz4, Zstd };

/// The payload's format from its first bytes.
PayloadFormat detect_payload_format(std::span<const uint8_t> payload);
/// "XZ", "gzip", ... for messages.
std::string_view payload_format_name(PayloadFormat f);
/// True for the formats the host decompresses (gzip, XZ, zstd).
bool host_decompresses(PayloadFormat f);

/// The size the payload declares in its last four bytes (0 when it is shorter than that).
uint32_t payload_declared_size(std::span<const uint8_t> payload);

/// Decompresses payload (as the setup header delimits it, the size trailer included) to the
/// start of out: exactly payload_declared_size bytes (set in size), which must fit in out.
/// Empty on success, else one line saying why (corrupt or truncated data, a size mismatch, a
/// format not decompressed on the host).
std::string decompress_payload(PayloadFormat f, std::span<const uint8_t> payload,
                               std::span<uint8_t> out, uint64_t& size);

/// Checks the decompressed vmlinux for loading at its physical addresses inside
/// [base, base + size): see the file comment. Fills image (entry physical); empty on success.
std::string check_vmlinux(std::span<const uint8_t> elf, uint64_t base, uint64_t size,
                          ElfImage& image);

/// The most PT_LOADs a vmlinux may have for the in-place move (Debian's has 4).
inline constexpr size_t kMaxVmlinuxSegments = 64;

/// Why the host could not place the kernel (the guest's decompressor runs instead).
enum class HostKernelResult : uint8_t {
  Ready,        // the kernel proper is in place
  Unsupported,  // a format the host does not decompress
  Invalid,      // a payload or ELF that fails a check
};

/// What place_host_kernel did.
struct HostKernel {
  PayloadFormat format = PayloadFormat::Unknown;
  ElfImage elf;
  bool touched = false;  // the window was written (even when the result is not Ready)
};

/// Detects and decompresses payload into window, the host memory behind guest-physical
/// [base, base + window.size()) (the kernel's init_size), checks the vmlinux there, then moves
/// each PT_LOAD to its p_paddr in ascending order, as the kernel's own parse_elf moves them
/// (refused when a move would overwrite a segment not yet moved), and clears their bss. The
/// rest of the window keeps leftover bytes, as after the kernel's decompressor. why says what
/// failed.
HostKernelResult place_host_kernel(std::span<const uint8_t> payload, uint64_t base,
                                   std::span<uint8_t> window, HostKernel& out, std::string& why);

}  // namespace orrery::machine::loader
