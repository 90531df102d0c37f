#include "vmi/paging/AddressSpace.hpp"

#include <algorithm>
#include <vector>

#include "vmi/base/CStringReader.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {

AddressSpace::AddressSpace(MemorySource& memory, PagingMode mode, std::uint64_t dtb)
    : memory_(memory), walker_(memory, mode, dtb)
{}

Translation AddressSpace::try_translate(std::uint64_t va)
{
    if (auto page = cache_.find(va >> 12)) {
        Translation hit;
        hit.ok = true;
        hit.physical = (page->physical_page << 12) | (va & 0xfff);
        hit.page_size = page->page_size;
        return hit;
    }
    Translation result = walker_.translate(va);
    if (result.ok) cache_.insert(va >> 12, {result.physical >> 12, result.page_size});
    return result;
}

std::uint64_t AddressSpace::translate(std::uint64_t va)
{
    Translation result = try_translate(va);
    if (!result.ok)
        fail("virtual address {:#x} is not mapped ({}; {} page tables at {:#x})", va, result.problem, name(mode()),
             dtb());
    return result.physical;
}

void AddressSpace::read(std::uint64_t va, std::span<std::uint8_t> out)
{
    std::size_t done = 0;
    while (done < out.size()) {
        std::uint64_t at = va + done;
        std::size_t chunk = std::min<std::size_t>(out.size() - done, 4096 - (at & 0xfff));
        memory_.read(translate(at), out.subspan(done, chunk));
        done += chunk;
    }
}

void AddressSpace::write(std::uint64_t va, std::span<const std::uint8_t> data)
{
    // Translate every page first: a write that cannot complete changes nothing.
    std::vector<std::pair<std::uint64_t, std::span<const std::uint8_t>>> pieces;
    std::size_t done = 0;
    while (done < data.size()) {
        std::uint64_t at = va + done;
        std::size_t chunk = std::min<std::size_t>(data.size() - done, 4096 - (at & 0xfff));
        pieces.emplace_back(translate(at), data.subspan(done, chunk));
        done += chunk;
    }
    for (auto& [physical, piece] : pieces)
        if (!memory_.is_ram(physical, piece.size())) fail("physical address {:#x} is not in guest RAM", physical);
    for (auto& [physical, piece] : pieces) memory_.write(physical, piece);
}

std::uint64_t AddressSpace::read_u64(std::uint64_t va)
{
    std::uint64_t value = 0;
    read(va, {reinterpret_cast<std::uint8_t*>(&value), sizeof value});
    return value;
}

std::uint32_t AddressSpace::read_u32(std::uint64_t va)
{
    std::uint32_t value = 0;
    read(va, {reinterpret_cast<std::uint8_t*>(&value), sizeof value});
    return value;
}

std::uint64_t AddressSpace::read_pointer(std::uint64_t va)
{
    return pointer_size(mode()) == 8 ? read_u64(va) : read_u32(va);
}

std::string AddressSpace::read_string(std::uint64_t va, std::size_t max_length, bool* terminated)
{
    return read_c_string([this](std::uint64_t at, std::span<std::uint8_t> out) { read(at, out); }, va, max_length,
                         terminated);
}

} // namespace vmi
