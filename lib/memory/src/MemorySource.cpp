#include "vmi/memory/MemorySource.hpp"

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

} // namespace vmi
