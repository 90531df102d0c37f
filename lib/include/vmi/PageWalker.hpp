#pragma once
// One x86 page-table walk: virtual address -> physical address, in any paging
// mode, with large pages. Reads the tables through PhysicalMemory and never
// trusts them: every entry address is checked to be RAM before it is read.
#include <cstdint>
#include <string>

#include "vmi/PagingMode.hpp"
#include "vmi/PhysicalMemory.hpp"

namespace vmi {

struct Translation {
    bool ok = false;
    std::uint64_t physical = 0;   // physical address of the virtual address
    std::uint64_t page_size = 0;  // 4 KiB, 2/4 MiB or 1 GiB
    // When !ok: which step failed ("PML4E not present", "non-canonical", ...).
    std::string problem;
};

class PageWalker {
public:
    PageWalker(PhysicalMemory& memory, PagingMode mode, std::uint64_t dtb);

    Translation translate(std::uint64_t virtual_address) const;

    PagingMode mode() const { return mode_; }
    std::uint64_t dtb() const { return dtb_; }
    bool is_canonical(std::uint64_t virtual_address) const;

private:
    bool read_entry(std::uint64_t table, unsigned index, unsigned entry_size, std::uint64_t& entry,
                    Translation& result, const char* level) const;

    PhysicalMemory& memory_;
    PagingMode mode_;
    std::uint64_t dtb_;
};

} // namespace vmi
