#include "common/Hexdump.hpp"

#include <fmt/format.h>

namespace vmi {

std::string hexdump(std::uint64_t start_address, std::span<const std::uint8_t> bytes)
{
    std::string out;
    bool wide = start_address + bytes.size() > 0xffffffffULL;
    for (std::size_t row = 0; row < bytes.size(); row += 16) {
        std::size_t n = std::min<std::size_t>(16, bytes.size() - row);
        out += wide ? fmt::format("{:016x}:", start_address + row) : fmt::format("{:08x}:", start_address + row);
        for (std::size_t i = 0; i < 16; ++i) {
            if (i % 2 == 0) out += ' ';
            out += i < n ? fmt::format("{:02x}", bytes[row + i]) : "  ";
        }
        out += "  ";
        for (std::size_t i = 0; i < n; ++i) {
            std::uint8_t c = bytes[row + i];
            out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
        }
        out += '\n';
    }
    return out;
}

std::string printable(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if ((c >= 0x20 && c < 0x7f && c != '\\') || c == '\n' || c == '\t') out += ch;
        else if (c == '\\') out += "\\\\";
        else out += fmt::format("\\x{:02x}", c);
    }
    return out;
}

} // namespace vmi
