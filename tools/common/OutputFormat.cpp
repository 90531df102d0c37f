#include "common/OutputFormat.hpp"

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

// Length of the valid UTF-8 sequence at text[at], or 0 when it is not one
// (overlong forms, surrogates and code points past U+10FFFF are not).
std::size_t utf8_sequence(std::string_view text, std::size_t at)
{
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    unsigned char lead = byte(at);
    if (lead < 0x80) return 1;
    std::size_t length = 0;
    std::uint32_t code = 0, minimum = 0;
    if (lead >= 0xc2 && lead <= 0xdf) length = 2, code = lead & 0x1f, minimum = 0x80;
    else if (lead >= 0xe0 && lead <= 0xef) length = 3, code = lead & 0x0f, minimum = 0x800;
    else if (lead >= 0xf0 && lead <= 0xf4) length = 4, code = lead & 0x07, minimum = 0x10000;
    else return 0;
    if (at + length > text.size()) return 0;
    for (std::size_t i = 1; i < length; ++i) {
        if ((byte(at + i) & 0xc0) != 0x80) return 0;
        code = (code << 6) | (byte(at + i) & 0x3f);
    }
    if (code < minimum || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
    return length;
}

nlohmann::json escaped(const nlohmann::json& value)
{
    if (value.is_string()) return json_escape_bytes(value.get_ref<const std::string&>());
    if (value.is_array()) {
        nlohmann::json out = nlohmann::json::array();
        for (const nlohmann::json& item : value) out.push_back(escaped(item));
        return out;
    }
    if (value.is_object()) {
        nlohmann::json out = nlohmann::json::object();
        for (const auto& [key, item] : value.items()) out[json_escape_bytes(key)] = escaped(item);
        return out;
    }
    return value;
}

} // namespace

OutputFormat parse_output_format(std::string_view text)
{
    if (text == "text") return OutputFormat::Text;
    if (text == "json") return OutputFormat::Json;
    if (text == "jsonl") return OutputFormat::JsonLines;
    fail("--format: unknown format '{}' (expected text, json or jsonl)", text);
}

std::string json_escape_bytes(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    std::size_t at = 0;
    while (at < text.size()) {
        if (text[at] == '\\') {
            out += "\\\\";
            ++at;
            continue;
        }
        std::size_t length = utf8_sequence(text, at);
        if (length == 0) {
            out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[at]));
            ++at;
            continue;
        }
        out.append(text.substr(at, length));
        at += length;
    }
    return out;
}

std::string to_json_text(const nlohmann::json& value)
{
    // Every string is valid UTF-8 once escaped: a strict dump cannot fail.
    return escaped(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
}

std::string hex_address(std::uint64_t value) { return fmt::format("{:#x}", value); }

} // namespace vmi
