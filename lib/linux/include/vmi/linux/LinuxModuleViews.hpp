#pragma once
// The kernel's several records of its modules, for the cross-view check
// (ModuleCrossView): besides the `modules` list (LinuxModuleList), sysfs's
// module_kset, whose kobjects are the modules' /sys/module entries, and the
// module tree (mod_tree), the latched red-black tree __module_address()
// searches. A rootkit that unlinks its module from the list leaves the
// others; one that also deletes its kobject leaves the tree.
//
// Each view is a set of struct module addresses; a view whose symbols or
// layout fields are missing is unavailable (with why), never an error.
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "vmi/linux/CrossView.hpp"
#include "vmi/linux/LinuxLayout.hpp"
#include "vmi/paging/AddressSpace.hpp"

namespace vmi {

// `module_kset` is the address of the symbol (a struct kset pointer).
ObjectView module_sysfs_view(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t module_kset,
                             std::size_t max_modules);

// `mod_tree` is the address of the struct mod_tree_root symbol; 0 when the
// kernel has none (CONFIG_MODULES_TREE_LOOKUP off).
ObjectView module_tree_view(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t mod_tree,
                            std::size_t max_modules);

// A scan of [start, end) for struct modules: every mapped page, every 8-byte-aligned
// place whose list pointers are kernel addresses, whose state is a module
// state and whose name is printable is a candidate; it counts only if its
// embedded module_kobject points back at it (mkobj.mod), which the kernel
// sets when it loads the module and a deleted kobject keeps.
ObjectView module_scan_view(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t start, std::uint64_t end,
                            std::size_t max_modules);

// module_scan_view over the area the kernel loads modules into. x86-64: its module
// area, MODULES_VADDR to MODULES_END (the same in 4- and 5-level paging). i386: the
// vmalloc area, from VMALLOC_START (the end of the direct map, read from the pointer
// at `high_memory`, the symbol's address, rounded up past an 8 MiB guard) to
// FIXADDR_TOP; the few pages the kmap and fixmap areas at its top map are scanned too.
// Unavailable, saying why, on i386 without high_memory or when it holds no kernel address.
ObjectView module_area_scan_view(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t high_memory,
                                 std::size_t max_modules);

} // namespace vmi
