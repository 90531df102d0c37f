#include "vmi/base/NumberParser.hpp"

#include <charconv>

#include "vmi/base/Error.hpp"

namespace vmi {

ParsedNumber try_parse_u64(std::string_view text)
{
    if (text.empty()) return {std::nullopt, "empty number"};
    int base = 10;
    std::string_view digits = text;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        digits = text.substr(2);
    } else if (text == "0x" || text == "0X") {
        return {std::nullopt, "'0x' without hex digits"};
    } else if (text.size() > 1 && text[0] == '0') {
        return {std::nullopt, "leading zero (write 0x... for hex; octal is not accepted)"};
    }
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
    if (ec == std::errc::result_out_of_range) return {std::nullopt, "number does not fit in 64 bits"};
    if (ec != std::errc() || end != digits.data() + digits.size()) {
        bool looks_hex = base == 10 && digits.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
        return {std::nullopt, looks_hex ? "not a decimal number (hex needs a 0x prefix)"
                                        : (base == 16 ? "not a hex number" : "not a number")};
    }
    return {value, {}};
}

std::uint64_t parse_u64(std::string_view text, std::string_view what)
{
    ParsedNumber parsed = try_parse_u64(text);
    if (!parsed.value) fail("{}: invalid number '{}': {}", what, text, parsed.problem);
    return *parsed.value;
}

} // namespace vmi
