#pragma once
// Lays out x86 page tables in a FakeMemory for any paging mode: tables are
// allocated from a bump pointer, entries written as the SDM describes them.
// The tests that pin index extraction do not use this: they write entries at
// hand-computed addresses, so a shared mistake here and in the walker shows.
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "FakeMemory.hpp"
#include "vmi/base/PagingMode.hpp"

namespace vmi_test {

class PageTableBuilder {
public:
    // `root` is the page-table root (CR3 value); tables are allocated from
    // `next_free` upward, 4 KiB each.
    PageTableBuilder(FakeMemory& memory, vmi::PagingMode mode, std::uint64_t root, std::uint64_t next_free)
        : memory_(memory), mode_(mode), root_(root), next_free_(next_free)
    {}

    std::uint64_t root() const { return root_; }

    // Maps the page of `page_size` bytes holding `va` to `physical` (which
    // must be aligned to `page_size`). `flags` are added to the leaf entry;
    // intermediate entries get P|RW|US.
    void map(std::uint64_t va, std::uint64_t physical, std::uint64_t page_size, std::uint64_t flags = P | RW)
    {
        std::uint64_t table = root_;
        for (unsigned shift : shifts()) {
            std::uint64_t entry_address = table + index(va, shift) * entry_size();
            if ((std::uint64_t{1} << shift) == page_size) {
                std::uint64_t entry = physical | flags | P;
                if (page_size != 4096) {
                    entry |= PS;
                    if (mode_ == vmi::PagingMode::Legacy32)
                        entry = (physical & 0xffc00000ULL) | (((physical >> 32) & 0xff) << 13) | flags | P | PS;
                }
                put(entry_address, entry);
                return;
            }
            std::uint64_t entry = get(entry_address);
            if (!(entry & P)) {
                entry = allocate() | P | RW | US;
                put(entry_address, entry);
            }
            table = entry & (mode_ == vmi::PagingMode::Legacy32 ? 0xfffff000ULL : 0x000ffffffffff000ULL);
        }
        throw std::logic_error("page size not supported by this paging mode");
    }

    // Address of the entry at `level` (0 = top) on the way to `va`; the
    // tables above it must exist.
    std::uint64_t entry_address(std::uint64_t va, unsigned level)
    {
        std::uint64_t table = root_;
        std::vector<unsigned> s = shifts();
        for (unsigned i = 0; i < level; ++i) {
            std::uint64_t entry = get(table + index(va, s[i]) * entry_size());
            table = entry & (mode_ == vmi::PagingMode::Legacy32 ? 0xfffff000ULL : 0x000ffffffffff000ULL);
        }
        return table + index(va, s[level]) * entry_size();
    }

    std::uint64_t get(std::uint64_t address)
    {
        if (entry_size() == 4) return memory_.get32(address);
        return memory_.get64(address);
    }
    void put(std::uint64_t address, std::uint64_t entry)
    {
        if (entry_size() == 4) memory_.put32(address, static_cast<std::uint32_t>(entry));
        else memory_.put64(address, entry);
    }

private:
    unsigned entry_size() const { return mode_ == vmi::PagingMode::Legacy32 ? 4 : 8; }
    std::vector<unsigned> shifts() const
    {
        switch (mode_) {
        case vmi::PagingMode::Legacy32: return {22, 12};
        case vmi::PagingMode::PAE: return {30, 21, 12};
        case vmi::PagingMode::IA32e: return {39, 30, 21, 12};
        case vmi::PagingMode::LA57: return {48, 39, 30, 21, 12};
        }
        return {};
    }
    std::uint64_t index(std::uint64_t va, unsigned shift) const
    {
        unsigned bits =
            mode_ == vmi::PagingMode::Legacy32 ? 10 : (mode_ == vmi::PagingMode::PAE && shift == 30 ? 2 : 9);
        return (va >> shift) & ((std::uint64_t{1} << bits) - 1);
    }
    std::uint64_t allocate()
    {
        std::uint64_t table = next_free_;
        next_free_ += 4096;
        return table;
    }

    FakeMemory& memory_;
    vmi::PagingMode mode_;
    std::uint64_t root_;
    std::uint64_t next_free_;
};

} // namespace vmi_test
