#include <doctest/doctest.h>

#include <array>
#include <cstdint>

#include "vmi/base/UnalignedLoad.hpp"

using vmi::load_guest_word;
using vmi::load_unaligned;

namespace {
// Bytes 0x01..0x10 at an odd offset in a buffer aligned for 8-byte words, so that every
// load below is misaligned (UBSan reports a load through a cast pointer there).
struct OddBytes {
    alignas(8) std::array<std::uint8_t, 24> buffer{};
    const std::uint8_t* at;
    OddBytes() : at(buffer.data() + 3)
    {
        for (std::uint8_t i = 0; i < 16; ++i) buffer[3 + i] = static_cast<std::uint8_t>(i + 1);
    }
};
} // namespace

TEST_CASE("unaligned loads: little-endian values at any offset")
{
    OddBytes b;
    CHECK(load_unaligned<std::uint16_t>(b.at) == 0x0201);
    CHECK(load_unaligned<std::uint32_t>(b.at) == 0x04030201U);
    CHECK(load_unaligned<std::uint64_t>(b.at + 1) == 0x0908070605040302ULL);
    CHECK(load_unaligned<std::int32_t>(b.at + 5) == 0x09080706);
}

TEST_CASE("unaligned loads: a guest word is 4 bytes zero-extended or 8 bytes")
{
    OddBytes b;
    CHECK(load_guest_word(b.at, 4) == 0x04030201U);
    CHECK(load_guest_word(b.at, 8) == 0x0807060504030201ULL);
    std::array<std::uint8_t, 8> high{0xff, 0xff, 0xff, 0xff, 0xee, 0xee, 0xee, 0xee};
    CHECK(load_guest_word(high.data(), 4) == 0xffffffffULL); // the next 4 bytes are not read into it
}
