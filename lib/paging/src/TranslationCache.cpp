#include "vmi/paging/TranslationCache.hpp"

namespace vmi {

std::optional<CachedPage> TranslationCache::find(std::uint64_t virtual_page) const
{
    auto it = map_.find(virtual_page);
    if (it == map_.end()) return std::nullopt;
    return it->second;
}

void TranslationCache::insert(std::uint64_t virtual_page, CachedPage page)
{
    if (map_.size() >= capacity_) map_.clear();
    map_.emplace(virtual_page, page);
}

} // namespace vmi
