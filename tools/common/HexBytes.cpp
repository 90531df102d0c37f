#include "common/HexBytes.hpp"

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int digit_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

} // namespace

std::vector<std::uint8_t> parse_hex_bytes(std::string_view text, std::string_view what)
{
    // "0x1234" is most likely a number meant for --u32/--u64, whose bytes
    // would land in the opposite order: say so rather than guess.
    if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        fail("{}: '{}' looks like a number; give bytes in memory order without 0x (e.g. 'deadbeef'), "
             "or use --u32/--u64 for a little-endian number",
             what, text);
    std::vector<std::uint8_t> bytes;
    std::size_t at = 0;
    while (at < text.size()) {
        if (is_space(text[at])) {
            ++at;
            continue;
        }
        std::size_t start = at;
        while (at < text.size() && !is_space(text[at])) {
            if (digit_value(text[at]) < 0)
                fail("{}: '{}' is not a hex digit (at position {} of '{}')", what, text[at], at + 1, text);
            ++at;
        }
        std::string_view group = text.substr(start, at - start);
        if (group.size() % 2 != 0)
            fail("{}: '{}' has an odd number of hex digits ({}); each byte needs two", what, group, group.size());
        for (std::size_t i = 0; i < group.size(); i += 2)
            bytes.push_back(static_cast<std::uint8_t>(digit_value(group[i]) << 4 | digit_value(group[i + 1])));
    }
    return bytes;
}

std::string hex_string(std::span<const std::uint8_t> bytes)
{
    static constexpr char DIGITS[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (std::uint8_t b : bytes) {
        out += DIGITS[b >> 4];
        out += DIGITS[b & 0xf];
    }
    return out;
}

} // namespace vmi
