#include "vmi/paging/PageWalker.hpp"

#include <array>

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

struct Level {
    const char* name;
    unsigned shift;      // lowest virtual-address bit this level indexes
    unsigned index_bits; // how many bits it indexes
    bool may_be_large;   // a PS bit here maps a large page
    bool has_rights;     // R/W and U/S bits count here (not in PAE's PDPTEs)
};

constexpr std::array<Level, 2> LEGACY{{{"PDE", 22, 10, true, true}, {"PTE", 12, 10, false, true}}};
constexpr std::array<Level, 3> PAE_LEVELS{
    {{"PDPTE", 30, 2, false, false}, {"PDE", 21, 9, true, true}, {"PTE", 12, 9, false, true}}};
constexpr std::array<Level, 5> LONG_LEVELS{{{"PML5E", 48, 9, false, true},
                                            {"PML4E", 39, 9, false, true},
                                            {"PDPTE", 30, 9, true, true},
                                            {"PDE", 21, 9, true, true},
                                            {"PTE", 12, 9, false, true}}};

constexpr std::uint64_t PRESENT = 1;
constexpr std::uint64_t READ_WRITE = 1 << 1;
constexpr std::uint64_t USER = 1 << 2;
constexpr std::uint64_t EXECUTE_DISABLE = 1ULL << 63;
constexpr std::uint64_t PAGE_SIZE_BIT = 1 << 7;
constexpr std::uint64_t FRAME_MASK_64 = 0x000ffffffffff000ULL;
constexpr std::uint64_t FRAME_MASK_32 = 0xfffff000ULL;

std::span<const Level> levels_of(PagingMode mode)
{
    switch (mode) {
    case PagingMode::Legacy32: return LEGACY;
    case PagingMode::PAE: return PAE_LEVELS;
    case PagingMode::IA32e: return std::span<const Level>(LONG_LEVELS).subspan(1);
    case PagingMode::LA57: return LONG_LEVELS;
    }
    return LEGACY;
}

} // namespace

PageWalker::PageWalker(MemorySource& memory, PagingMode mode, std::uint64_t dtb)
    : memory_(memory), mode_(mode), dtb_(dtb)
{}

bool PageWalker::is_canonical(std::uint64_t va) const
{
    unsigned bits = virtual_address_bits(mode_);
    if (bits == 32) return va <= 0xffffffffULL;
    // Bits 63..bits-1 must all equal bit bits-1.
    std::uint64_t top = va >> (bits - 1);
    return top == 0 || top == (~std::uint64_t{0} >> (bits - 1));
}

bool PageWalker::read_entry(std::uint64_t table, unsigned index, unsigned entry_size, std::uint64_t& entry,
                            Translation& result, const char* level) const
{
    std::uint64_t address = table + std::uint64_t{index} * entry_size;
    if (!memory_.is_ram(address, entry_size)) {
        result.problem = fmt::format("{} at physical {:#x} is outside guest RAM", level, address);
        return false;
    }
    entry = 0;
    memory_.read(address, {reinterpret_cast<std::uint8_t*>(&entry), entry_size});
    return true;
}

bool PageWalker::to_physical(std::uint64_t& page, Translation& result, const char* level) const
{
    std::optional<std::uint64_t> physical = memory_.table_page_to_physical(page);
    if (!physical) {
        result.problem = fmt::format("{} names frame {:#x}, which is not the guest's", level, page >> 12);
        return false;
    }
    page = *physical;
    return true;
}

Translation PageWalker::translate(std::uint64_t va) const
{
    Translation result;
    if (!is_canonical(va)) {
        result.problem = is_64bit(mode_) ? "address is not canonical" : "address does not fit in 32 bits";
        return result;
    }
    const unsigned entry_size = mode_ == PagingMode::Legacy32 ? 4 : 8;
    const std::uint64_t frame_mask = mode_ == PagingMode::Legacy32 ? FRAME_MASK_32 : FRAME_MASK_64;
    std::uint64_t table = dtb_;
    bool writable = true, user = true, no_execute = false;
    // The rights of the walk so far, with this entry's; set into `result` at the leaf.
    auto combine = [&](const Level& level, std::uint64_t entry) {
        if (level.has_rights) {
            writable = writable && (entry & READ_WRITE);
            user = user && (entry & USER);
        }
        // XD is bit 63 of 8-byte entries; reserved in PAE's PDPTEs.
        if (entry_size == 8 && level.has_rights) no_execute = no_execute || (entry & EXECUTE_DISABLE);
    };
    auto rights = [&] {
        result.writable = writable;
        result.user = user;
        result.no_execute = no_execute;
    };
    for (const Level& level : levels_of(mode_)) {
        auto index = static_cast<unsigned>((va >> level.shift) & ((1u << level.index_bits) - 1));
        std::uint64_t entry = 0;
        if (!read_entry(table, index, entry_size, entry, result, level.name)) return result;
        if (!(entry & PRESENT)) {
            result.problem = fmt::format("{} not present", level.name);
            result.unmapped_span = std::uint64_t{1} << level.shift;
            return result;
        }
        combine(level, entry);
        if (level.may_be_large && (entry & PAGE_SIZE_BIT)) {
            std::uint64_t size = std::uint64_t{1} << level.shift;
            std::uint64_t frame = entry & frame_mask & ~(size - 1);
            if (mode_ == PagingMode::Legacy32) {
                // PSE-36: physical bits 32..39 of a 4 MiB page sit in PDE bits 13..20.
                frame = (entry & 0xffc00000ULL) | (((entry >> 13) & 0xff) << 32);
            }
            // The 4 KiB piece is what the source translates: a large page is
            // contiguous in the table's frames, not necessarily in guest-physical ones.
            std::uint64_t piece = (frame | (va & (size - 1))) & ~0xfffULL;
            if (!to_physical(piece, result, level.name)) return result;
            result.ok = true;
            result.physical = piece | (va & 0xfff);
            result.page_size = size;
            rights();
            return result;
        }
        table = entry & frame_mask;
        if (!to_physical(table, result, level.name)) return result;
    }
    result.ok = true;
    result.physical = table | (va & 0xfff);
    result.page_size = 4096;
    rights();
    return result;
}

} // namespace vmi
