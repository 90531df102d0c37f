#pragma once
// The output side of a decompressor: a buffer that grows as the stream asks
// for room and refuses to grow past a cap, because a few KiB of hostile
// compressed data can claim to expand to any size.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vmi::decompress {

class BoundedOutput {
public:
    // `format` ("xz") and `origin` (the file) name the stream in errors.
    BoundedOutput(std::string_view format, const std::string& origin, std::size_t max_size, std::size_t size_hint);

    // Free room after what was written so far: at least `wanted` bytes unless
    // the cap is nearer, never empty (at the cap it throws instead). Streaming
    // decoders take whatever is left before asking for more, so an exact size
    // hint means no regrowth at all.
    std::span<std::uint8_t> room(std::size_t wanted = 1);
    // Marks `count` bytes of the last room() as written.
    void commit(std::size_t count);

    std::size_t size() const { return size_; }
    std::size_t max_size() const { return max_size_; }
    std::vector<std::uint8_t> take();

    const std::string& origin() const { return origin_; }
    std::string_view format() const { return format_; }

    [[noreturn]] void fail_corrupt(std::string_view why) const;
    [[noreturn]] void fail_truncated() const;
    [[noreturn]] void fail_too_large() const;

private:
    std::string_view format_;
    const std::string& origin_;
    std::size_t max_size_;
    std::vector<std::uint8_t> data_;
    std::size_t size_ = 0;
};

} // namespace vmi::decompress
