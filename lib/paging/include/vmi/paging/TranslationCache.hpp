#pragma once
// Remembers recent virtual-page -> physical-page translations of one address
// space, so walks of adjacent structures do not re-read the page tables.
// Bounded: when full it starts over rather than growing.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>

namespace vmi {

// What the cache keeps of one walk: the 4 KiB physical page and the size of the
// page the walk found, so a hit answers exactly what the walk answered.
struct CachedPage {
    std::uint64_t physical_page = 0; // 4 KiB page number
    std::uint64_t page_size = 4096;  // 4 KiB, 2/4 MiB or 1 GiB
    bool operator==(const CachedPage&) const = default;
};

class TranslationCache {
public:
    explicit TranslationCache(std::size_t capacity = 1 << 16) : capacity_(capacity) {}

    // Keys are 4 KiB page numbers (large pages are cached per 4 KiB piece).
    std::optional<CachedPage> find(std::uint64_t virtual_page) const;
    void insert(std::uint64_t virtual_page, CachedPage page);
    void clear() { map_.clear(); }
    std::size_t size() const { return map_.size(); }

private:
    std::size_t capacity_;
    std::unordered_map<std::uint64_t, CachedPage> map_;
};

} // namespace vmi
