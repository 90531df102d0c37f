#pragma once
// What QEMU's human monitor says about a guest, parsed: the RAM regions of
// the system address space (`info mtree -f`) and the control registers of
// vCPU 0 (`info registers`). The parsers take text, so they are unit-tested
// on captured output.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vmi/memory/CpuRegisters.hpp"

namespace vmi {

// A run of guest-physical RAM backed by one QEMU memory region.
struct QemuRamRegion {
    std::uint64_t start = 0;
    std::uint64_t size = 0;
    std::string name;         // memory region name ("ram0", "pc.ram", "ram-above-4g" alias target)
    std::uint64_t offset = 0; // offset of `start` within that region
};

// RAM and ROM regions of the flat view of address space "memory", sorted,
// adjacent pieces of one region at consecutive offsets merged. Throws
// vmi::Error when the text has no such flat view.
std::vector<QemuRamRegion> parse_qemu_mtree(std::string_view text);

// CR0, CR3, CR4 and EFER of the first CPU in `info registers` output.
CpuRegisters parse_qemu_registers(std::string_view text);

// The host virtual address in `gpa2hva` output ("Host virtual address for
// 0x100000 (ram0) is 0x7f..."); throws with QEMU's message otherwise.
std::uint64_t parse_qemu_gpa2hva(std::string_view text);

// Bytes from `xp /Nxg ADDR` output, 8 per unit, little-endian.
std::vector<std::uint8_t> parse_qemu_xp(std::string_view text, std::size_t units);

} // namespace vmi
