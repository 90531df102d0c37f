#pragma once
// Remembers recent virtual-page -> physical-page translations of one address
// space, so walks of adjacent structures do not re-read the page tables.
// Bounded: when full it starts over rather than growing.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>

namespace vmi {

class TranslationCache {
public:
    explicit TranslationCache(std::size_t capacity = 1 << 16) : capacity_(capacity) {}

    // Keys and values are 4 KiB page numbers (large pages are cached per 4 KiB piece).
    std::optional<std::uint64_t> find(std::uint64_t virtual_page) const;
    void insert(std::uint64_t virtual_page, std::uint64_t physical_page);
    void clear() { map_.clear(); }
    std::size_t size() const { return map_.size(); }

private:
    std::size_t capacity_;
    std::unordered_map<std::uint64_t, std::uint64_t> map_;
};

} // namespace vmi
