#include "vmi/memory/MemorySource.hpp"

#include <algorithm>

namespace vmi {

bool MemorySource::is_ram(std::uint64_t address, std::uint64_t size) const
{
    for (const PhysicalRange& range : ranges()) {
        if (range.contains(address)) {
            std::uint64_t available = range.end() - address;
            if (size <= available) return true;
            size -= available;
            address = range.end();
        }
    }
    return size == 0;
}

bool overlaps_any(const std::vector<PhysicalRange>& sorted, std::uint64_t start, std::uint64_t size)
{
    // The first range that ends after `start`.
    auto it = std::upper_bound(sorted.begin(), sorted.end(), start,
                               [](std::uint64_t at, const PhysicalRange& range) { return at < range.end(); });
    return it != sorted.end() && it->start < start + size;
}

} // namespace vmi
