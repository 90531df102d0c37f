#include "vmi/base/Base64.hpp"

#include <array>
#include <cstdint>

namespace vmi {
namespace {

constexpr std::int8_t NOT_BASE64 = -1;

constexpr std::array<std::int8_t, 256> decoding_table()
{
    std::array<std::int8_t, 256> table{};
    table.fill(NOT_BASE64);
    constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::size_t i = 0; i < alphabet.size(); ++i)
        table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
    return table;
}

} // namespace

std::optional<std::string> decode_base64(std::string_view text)
{
    static constexpr std::array<std::int8_t, 256> table = decoding_table();
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t padding = 0;
    if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        bool last = i + 4 == text.size();
        std::uint32_t group = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            char c = text[i + j];
            std::int8_t value = table[static_cast<unsigned char>(c)];
            bool pad = c == '=' && last && j >= 4 - padding;
            if (value == NOT_BASE64 && !pad) return std::nullopt;
            group = (group << 6) | static_cast<std::uint32_t>(pad ? 0 : value);
        }
        std::size_t bytes = last ? 3 - padding : 3;
        for (std::size_t k = 0; k < bytes; ++k) out.push_back(static_cast<char>((group >> (16 - 8 * k)) & 0xff));
    }
    return out;
}

} // namespace vmi
