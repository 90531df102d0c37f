#pragma once
// Finds a Linux kernel's paging mode and page-table root (DTB) from memory
// and symbols alone, for sources without registers (raw dumps), and checks a
// DTB taken from registers (a CR3 caught in user mode under KPTI).
#include <cstdint>
#include <optional>
#include <string>

#include "vmi/PagingMode.hpp"
#include "vmi/PhysicalMemory.hpp"
#include "vmi/SymbolTable.hpp"

namespace vmi {

struct KernelLocation {
    PagingMode mode;
    std::uint64_t dtb;
    std::string how; // for --verbose
};

// True when `linux_banner` reads "Linux version" through (mode, dtb). Without
// that symbol the check falls back to the page-table root mapping itself.
bool kernel_mapping_works(PhysicalMemory& memory, PagingMode mode, std::uint64_t dtb, const SymbolTable& symbols);

// Searches RAM for the kernel's top-level page table: the page that, used as
// the DTB, maps the virtual address of swapper_pg_dir/init_top_pgt to itself.
// `mode` limits the search to one mode; otherwise every mode the symbol
// addresses allow is tried. Throws vmi::Error when nothing fits.
KernelLocation search_kernel_page_tables(PhysicalMemory& memory, const SymbolTable& symbols,
                                         std::optional<PagingMode> mode);

} // namespace vmi
