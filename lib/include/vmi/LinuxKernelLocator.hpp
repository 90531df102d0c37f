#pragma once
// Finds a Linux kernel in guest memory: its paging mode, the page-table root
// (DTB) that maps it and its KASLR slide, from whatever the source offers:
// registers (ELF cores, live guests), config hints, or memory alone (raw
// dumps). Works with runtime addresses (a kallsyms copy, slide 0) and with a
// System.map of link-time addresses alike.
#include <cstdint>
#include <optional>
#include <string>

#include "vmi/PagingMode.hpp"
#include "vmi/PhysicalMemory.hpp"
#include "vmi/SymbolTable.hpp"

namespace vmi {

struct KernelLocation {
    PagingMode mode;
    std::uint64_t dtb = 0;
    std::int64_t slide = 0; // runtime address - symbol table address
    std::string how;        // for --verbose
};

struct KernelHints {
    std::optional<PagingMode> mode;
    std::optional<std::uint64_t> dtb;
    std::string dtb_source;  // "CR3 from ...", "kpgd from the config"
    bool dtb_is_cr3 = false; // may be the user half of a KPTI PGD pair
};

KernelLocation locate_linux_kernel(PhysicalMemory& memory, const SymbolTable& symbols, const KernelHints& hints);

} // namespace vmi
