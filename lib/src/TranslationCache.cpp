#include "vmi/TranslationCache.hpp"

namespace vmi {

std::optional<std::uint64_t> TranslationCache::find(std::uint64_t virtual_page) const
{
    auto it = map_.find(virtual_page);
    if (it == map_.end()) return std::nullopt;
    return it->second;
}

void TranslationCache::insert(std::uint64_t virtual_page, std::uint64_t physical_page)
{
    if (map_.size() >= capacity_) map_.clear();
    map_.emplace(virtual_page, physical_page);
}

} // namespace vmi
