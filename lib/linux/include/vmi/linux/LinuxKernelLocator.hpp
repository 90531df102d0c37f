#pragma once
// Finds a Linux kernel in guest memory: its paging mode, its own top-level
// page table (init_top_pgt / swapper_pg_dir) and its KASLR slide, from
// whatever the source offers: registers (ELF cores, live guests), config
// hints, or memory alone (raw dumps). Works with runtime addresses (a
// kallsyms copy or the kernel's own tables, slide 0) and with a System.map of
// link-time addresses alike.
//
// Finding the kernel must not hang on one string a guest can change. The
// main anchor is the kernel's top-level page table mapping its own symbol
// address onto itself: a kernel cannot run with that broken. On 64-bit
// kernels that is decisive (the image has its own mapping). A 32-bit kernel
// lives in the direct map, where every process's page directory maps itself
// just as well, so there a candidate must also pass one content anchor: the
// banner at linux_banner, or those the caller adds (init_task's comm). With
// no top-level table in the symbols, the banner is the anchor. Which anchors
// held is reported for -v.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vmi/base/PagingMode.hpp"
#include "vmi/memory/MemorySource.hpp"
#include "vmi/symbols/SymbolTable.hpp"

namespace vmi {

struct KernelAnchor {
    std::string name; // "page tables", "banner", ...
    bool held = false;
    std::string detail;
};

struct KernelLocation {
    PagingMode mode;
    std::uint64_t dtb = 0;  // the kernel's own top-level page table (physical)
    std::int64_t slide = 0; // runtime address - symbol table address
    std::string how;        // for --verbose
    std::vector<KernelAnchor> anchors;
};

struct KernelHints {
    std::optional<PagingMode> mode;
    std::optional<std::uint64_t> dtb;
    std::string dtb_source;  // "CR3 from ...", "kpgd from the config"
    bool dtb_is_cr3 = false; // may be the user half of a KPTI PGD pair
};

// A fact about the kernel's contents at a candidate location, e.g. that
// init_task's comm reads "swapper/0". `holds` reads through the candidate's
// page tables (kernel_physical) and returns a detail for -v, or nullopt.
struct ContentAnchor {
    std::string name;
    std::function<std::optional<std::string>(MemorySource& memory, const struct KernelLocation& candidate)> holds;
};

KernelLocation locate_linux_kernel(MemorySource& memory, const SymbolTable& symbols, const KernelHints& hints,
                                   const std::vector<ContentAnchor>& anchors = {});

// The physical address the kernel's page tables map `symbol_address` to, or
// nullopt; for anchors checked later (init_task's comm).
std::optional<std::uint64_t> kernel_physical(MemorySource& memory, const KernelLocation& location,
                                             std::uint64_t virtual_address);

} // namespace vmi
