#pragma once
// Values stored at any alignment in guest memory, dump files or kernel images, read
// without undefined behaviour (a cast to a wider pointer would be a misaligned load).
// x86 guests and the hosts these tools run on are little-endian, so bytes are taken in
// host order.
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace vmi {

template <typename T>
requires std::is_trivially_copyable_v<T> T load_unaligned(const std::uint8_t* bytes)
{
    T value;
    std::memcpy(&value, bytes, sizeof value);
    return value;
}

// A guest pointer or `unsigned long` of `size` bytes (4 or 8), zero-extended.
inline std::uint64_t load_guest_word(const std::uint8_t* bytes, unsigned size)
{
    return size == 4 ? load_unaligned<std::uint32_t>(bytes) : load_unaligned<std::uint64_t>(bytes);
}

} // namespace vmi
