// parse_hex_bytes / hex_string: bytes in memory order, spelled in hex.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/HexBytes.hpp"
#include "vmi/base/Error.hpp"

using vmi::parse_hex_bytes;

namespace {

std::string error_of(std::string_view text)
{
    try {
        parse_hex_bytes(text, "--hex");
    } catch (const vmi::Error& e) {
        return e.what();
    }
    FAIL("no error for '" << text << "'");
    return {};
}

} // namespace

TEST_CASE("hex bytes: packed, spaced, mixed case")
{
    std::vector<std::uint8_t> deadbeef{0xde, 0xad, 0xbe, 0xef};
    CHECK(parse_hex_bytes("deadbeef", "--hex") == deadbeef);
    CHECK(parse_hex_bytes("de ad be ef", "--hex") == deadbeef);
    CHECK(parse_hex_bytes("  DEAD\tBeEf\n", "--hex") == deadbeef);
    CHECK(parse_hex_bytes("00", "--hex") == std::vector<std::uint8_t>{0});
    CHECK(parse_hex_bytes("", "--hex").empty());
    CHECK(parse_hex_bytes("   ", "--hex").empty());
}

TEST_CASE("hex bytes: odd digit counts, non-hex and numbers are refused")
{
    CHECK(error_of("abc") == "--hex: 'abc' has an odd number of hex digits (3); each byte needs two");
    CHECK(error_of("de a be") == "--hex: 'a' has an odd number of hex digits (1); each byte needs two");
    CHECK(error_of("dexx") == "--hex: 'x' is not a hex digit (at position 3 of 'dexx')");
    CHECK(error_of("de,ad") == "--hex: ',' is not a hex digit (at position 3 of 'de,ad')");
    CHECK(error_of("0xdeadbeef").find("looks like a number") != std::string::npos);
}

TEST_CASE("hex string: two lowercase digits per byte")
{
    std::vector<std::uint8_t> bytes{0x00, 0x0f, 0xa0, 0xff};
    CHECK(vmi::hex_string(bytes) == "000fa0ff");
    CHECK(vmi::hex_string({}) == "");
    CHECK(parse_hex_bytes(vmi::hex_string(bytes), "x") == bytes);
}
