#pragma once
// One x86 page-table walk: virtual address -> physical address, in any paging
// mode, with large pages. Reads the tables through MemorySource and never
// trusts them: every entry address is checked to be RAM before it is read.
// Addresses taken from entries go through the source's frame translation
// (MemorySource::table_page_to_physical: the identity except for Xen PV
// guests, whose entries hold machine frames), so everything here is
// guest-physical.
#include <cstdint>
#include <string>

#include "vmi/base/PagingMode.hpp"
#include "vmi/memory/MemorySource.hpp"

namespace vmi {

struct Translation {
    bool ok = false;
    std::uint64_t physical = 0;  // physical address of the virtual address
    std::uint64_t page_size = 0; // 4 KiB, 2/4 MiB or 1 GiB
    // When !ok: which step failed ("PML4E not present", "non-canonical", ...).
    std::string problem;
    // When !ok because an entry was not present: the size of the virtual range
    // that entry maps (1 GiB for a PDPTE, 2 MiB for a PDE, ...), all of it
    // unmapped, so that a scan may skip to its end. 0 otherwise.
    std::uint64_t unmapped_span = 0;
    // The access rights of the walk, every level's bits combined as the CPU
    // combines them: writable only if R/W (bit 1) is set at every level, a
    // user page only if U/S (bit 2) is, no-execute if any level sets XD (bit
    // 63; honoured when EFER.NXE is on, as with every 64-bit Linux). Legacy
    // 32-bit entries have no XD bit, PAE's PDPTEs no R/W or U/S. These are
    // the guest's own tables: CR0.WP decides whether the kernel itself may
    // write a read-only page. Set by PageWalker when ok (AddressSpace's
    // translation cache does not keep them).
    bool writable = false;
    bool user = false;
    bool no_execute = false;
};

class PageWalker {
public:
    PageWalker(MemorySource& memory, PagingMode mode, std::uint64_t dtb);

    Translation translate(std::uint64_t va) const;

    PagingMode mode() const { return mode_; }
    std::uint64_t dtb() const { return dtb_; }
    bool is_canonical(std::uint64_t va) const;

private:
    bool read_entry(std::uint64_t table, unsigned index, unsigned entry_size, std::uint64_t& entry, Translation& result,
                    const char* level) const;
    // `page`, an address taken from an entry at `level`, made guest-physical
    // (MemorySource::table_page_to_physical); false with result.problem set
    // when the source disowns it.
    bool to_physical(std::uint64_t& page, Translation& result, const char* level) const;

    MemorySource& memory_;
    PagingMode mode_;
    std::uint64_t dtb_;
};

} // namespace vmi
