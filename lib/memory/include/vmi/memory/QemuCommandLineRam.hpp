#pragma once
// The guest-physical RAM layout that a QEMU command line implies, for a QEMU
// whose monitor we cannot ask: the RAM size (-m, or the size of the memory
// backend -machine memory-backend= names) and how the x86 machine type splits
// it below and above 4 GiB (QEMU's pc_piix / pc_q35 rules, with
// max-ram-below-4g). A layout found this way is a guess until the guest's
// own memory map (its e820 table) confirms it; the Linux layer checks that.
#include <cstdint>
#include <string>
#include <vector>

#include "vmi/memory/QemuLayout.hpp"

namespace vmi {

struct CommandLineRam {
    std::uint64_t size = 0;             // bytes of guest RAM
    std::string machine;                // "pc" (i440fx) or "q35"
    std::uint64_t below_4g = 0;         // bytes at guest-physical 0..
    std::uint64_t above_4g = 0;         // bytes at guest-physical 4 GiB..
    std::string backend;                // the memory backend's id, empty for -m's own RAM ("pc.ram")
    std::string backend_type;           // "memory-backend-memfd", ...; empty for -m's own RAM
    std::string mem_path;               // a memory-backend-file's mem-path
    std::vector<QemuRamRegion> regions; // the RAM as the guest sees it; offset: into the RAM block
    std::string how;                    // "-m 5G, machine pc: 3 GiB below 4 GiB, 2 GiB above"
};

// QEMU's size syntax: a number with an optional fraction and a suffix
// B/K/M/G/T/P/E (any case); no suffix means `default_unit` bytes.
// Throws vmi::Error for anything else.
std::uint64_t parse_qemu_size(const std::string& text, std::uint64_t default_unit);

// Throws vmi::Error naming what it cannot lay out: a machine type other than
// pc/q35 (microvm, isapc, ...), several NUMA nodes, a backend that is named
// but not defined, a size that does not parse.
CommandLineRam ram_layout_on_command_line(const std::vector<std::string>& argv);

} // namespace vmi
