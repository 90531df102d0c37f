#include "common/Cell.hpp"

#include <fmt/format.h>

#include "common/OutputFormat.hpp"

namespace vmi {
namespace {

// Like printable(), but a table cell is one line: \n and \t are escaped too.
std::string one_line(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7f && c != '\\') out += ch;
        else if (c == '\\') out += "\\\\";
        else out += fmt::format("\\x{:02x}", c);
    }
    return out;
}

} // namespace

std::string cell_text(const Cell& cell)
{
    struct Visitor {
        std::string operator()(std::monostate) const { return "-"; }
        std::string operator()(Unreadable) const { return "?"; }
        std::string operator()(bool value) const { return value ? "yes" : "no"; }
        std::string operator()(std::int64_t value) const { return std::to_string(value); }
        std::string operator()(std::uint64_t value) const { return std::to_string(value); }
        std::string operator()(const std::string& value) const { return one_line(value); }
        std::string operator()(Address address) const { return hex_address(address.value); }
        std::string operator()(const std::vector<std::string>& values) const
        {
            if (values.empty()) return "-";
            std::string out;
            for (const std::string& value : values) out += (out.empty() ? "" : ",") + one_line(value);
            return out;
        }
    };
    return std::visit(Visitor{}, cell);
}

nlohmann::json cell_json(const Cell& cell)
{
    struct Visitor {
        nlohmann::json operator()(std::monostate) const { return nullptr; }
        nlohmann::json operator()(Unreadable) const { return nullptr; }
        nlohmann::json operator()(bool value) const { return value; }
        nlohmann::json operator()(std::int64_t value) const { return value; }
        nlohmann::json operator()(std::uint64_t value) const { return value; }
        nlohmann::json operator()(const std::string& value) const { return value; }
        nlohmann::json operator()(Address address) const { return hex_address(address.value); }
        nlohmann::json operator()(const std::vector<std::string>& values) const { return values; }
    };
    return std::visit(Visitor{}, cell);
}

} // namespace vmi
