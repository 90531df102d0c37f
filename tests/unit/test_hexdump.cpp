// hexdump (xxd's layout) and printable (guest text made terminal-safe).
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/Hexdump.hpp"

using vmi::hexdump;
using vmi::printable;

namespace {

std::span<const std::uint8_t> bytes_of(std::string_view s)
{
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

} // namespace

TEST_CASE("hexdump: matches xxd for a full and a partial row")
{
    // Expected text is xxd's output for the same bytes.
    CHECK(hexdump(0, bytes_of("Linux version 6.1.0-13-amd64\n")) ==
          "00000000: 4c69 6e75 7820 7665 7273 696f 6e20 362e  Linux version 6.\n"
          "00000010: 312e 302d 3133 2d61 6d64 3634 0a         1.0-13-amd64.\n");
}

TEST_CASE("hexdump: non-printable bytes are dots in the text column")
{
    CHECK(hexdump(0, bytes_of(std::string_view("\x00\x01\x1f\x7f\x80\xff ~AB", 10))) ==
          "00000000: 0001 1f7f 80ff 207e 4142                 ...... ~AB\n");
}

TEST_CASE("hexdump: rows are numbered from the start address, not aligned")
{
    CHECK(hexdump(0x7ffffff8, bytes_of("0123456789abcdefX")) ==
          "7ffffff8: 3031 3233 3435 3637 3839 6162 6364 6566  0123456789abcdef\n"
          "80000008: 58                                       X\n");
}

TEST_CASE("hexdump: 64-bit addresses use 16 digits on every row")
{
    CHECK(hexdump(0xffffffff81000010ULL, bytes_of("ABC")) ==
          "ffffffff81000010: 4142 43                                  ABC\n");
    CHECK(hexdump(0x100000000ULL, bytes_of("A")) == "0000000100000000: 41                                       A\n");
    // A dump that crosses 4 GiB: the same width on every row, so columns line up.
    std::string out = hexdump(0xfffffff0ULL, bytes_of("0123456789abcdef0123456789abcdef"));
    CHECK(out == "00000000fffffff0: 3031 3233 3435 3637 3839 6162 6364 6566  0123456789abcdef\n"
                 "0000000100000000: 3031 3233 3435 3637 3839 6162 6364 6566  0123456789abcdef\n");
    // Entirely below 4 GiB: 8 digits, also when the last byte is 0xfffffffe.
    CHECK(hexdump(0xffffffe0ULL, bytes_of("z")) == "ffffffe0: 7a                                       z\n");
    CHECK(hexdump(0xfffffff0ULL, bytes_of("0123456789abcde")) ==
          "fffffff0: 3031 3233 3435 3637 3839 6162 6364 65    0123456789abcde\n");
}

TEST_CASE("hexdump: exact row boundaries and empty input")
{
    CHECK(hexdump(0, {}) == "");
    std::vector<std::uint8_t> sixteen(16, 0x41);
    CHECK(hexdump(0x10, sixteen) == "00000010: 4141 4141 4141 4141 4141 4141 4141 4141  AAAAAAAAAAAAAAAA\n");
    std::vector<std::uint8_t> seventeen(17, 0x00);
    CHECK(hexdump(0, seventeen) == "00000000: 0000 0000 0000 0000 0000 0000 0000 0000  ................\n"
                                   "00000010: 00                                       .\n");
    std::vector<std::uint8_t> odd{0xde, 0xad, 0xbe};
    CHECK(hexdump(0, odd) == "00000000: dead be                                  ...\n");
}

TEST_CASE("printable: ASCII, newline and tab kept; everything else escaped")
{
    CHECK(printable("swapper/0") == "swapper/0");
    CHECK(printable("a b~!") == "a b~!");
    CHECK(printable("line1\nline2\tcol") == "line1\nline2\tcol");
    CHECK(printable("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m");
    CHECK(printable(std::string_view("a\0b", 3)) == "a\\x00b");
    CHECK(printable("\r") == "\\x0d");
    CHECK(printable("\x7f") == "\\x7f");
    CHECK(printable("\x80\xff") == "\\x80\\xff");
    CHECK(printable("caf\xc3\xa9") == "caf\\xc3\\xa9");
    CHECK(printable("\x1f ") == "\\x1f ");
    CHECK(printable("") == "");
}

TEST_CASE("printable: a backslash is doubled, so output is unambiguous")
{
    CHECK(printable("\\") == "\\\\");
    CHECK(printable("C:\\x41") == "C:\\\\x41");
    // The escaped form of byte 0x41 and the text "\x41" differ.
    CHECK(printable("\x41") == "A");
    CHECK(printable("\\x41") != printable("A"));
}
