#include "decompress/BoundedOutput.hpp"

#include <algorithm>

#include "vmi/base/Error.hpp"

namespace vmi::decompress {
namespace {

constexpr std::size_t MIN_GROWTH = std::size_t{1} << 20;

} // namespace

BoundedOutput::BoundedOutput(std::string_view format, const std::string& origin, std::size_t max_size,
                             std::size_t size_hint)
    : format_(format), origin_(origin), max_size_(max_size)
{
    data_.resize(std::min(size_hint, max_size_));
}

std::span<std::uint8_t> BoundedOutput::room(std::size_t wanted)
{
    // One byte beyond the cap is handed out, so that a stream of exactly
    // max_size bytes can finish while one that goes on is caught in commit().
    const std::size_t hard_limit = max_size_ + 1;
    if (data_.size() - size_ < wanted) {
        // Doubling keeps the number of copies (and zero-fills) logarithmic.
        std::size_t grown = std::max({size_ + wanted, data_.size() * 2, MIN_GROWTH});
        grown = std::min(grown, hard_limit);
        if (grown > data_.size()) data_.resize(grown);
    }
    if (data_.size() == size_) fail_too_large();
    return {data_.data() + size_, data_.size() - size_};
}

void BoundedOutput::commit(std::size_t count)
{
    size_ += std::min(count, data_.size() - size_);
    if (size_ > max_size_) fail_too_large();
}

std::vector<std::uint8_t> BoundedOutput::take()
{
    data_.resize(size_);
    data_.shrink_to_fit();
    return std::move(data_);
}

void BoundedOutput::fail_corrupt(std::string_view why) const
{
    if (why.empty()) fail("'{}': {} data corrupt", origin_, format_);
    fail("'{}': {} data corrupt ({})", origin_, format_, why);
}

void BoundedOutput::fail_truncated() const { fail("'{}': {} data truncated", origin_, format_); }

void BoundedOutput::fail_too_large() const
{
    constexpr std::size_t MiB = std::size_t{1} << 20;
    if (max_size_ % MiB == 0)
        fail("'{}': {} data decompresses to more than {} MiB, the limit for a kernel image", origin_, format_,
             max_size_ / MiB);
    fail("'{}': {} data decompresses to more than {} bytes, the limit for a kernel image", origin_, format_, max_size_);
}

} // namespace vmi::decompress
