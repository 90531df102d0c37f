#pragma once
// One value of an output table, typed so that text and JSON each show it
// their way: a number as digits in both, an address as 0x... hex (a JSON
// string, so 64-bit values survive readers that use doubles), a guest string
// escaped for the terminal in text and as itself in JSON, a list comma-joined
// in text and as an array in JSON, "no value" (a column the guest's layout
// cannot fill) as "-" and null, and a value the guest's memory made
// unreadable as "?" and null.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace vmi {

struct Address {
    std::uint64_t value = 0;
};

struct Unreadable {};

using Cell = std::variant<std::monostate, Unreadable, bool, std::int64_t, std::uint64_t, std::string, Address,
                          std::vector<std::string>>;

// The cell of a value that may be missing: make(value) when there is one,
// else Unreadable when `bad`, else no value.
template <typename T, typename Make>
Cell optional_cell(const std::optional<T>& value, bool bad, Make&& make)
{
    if (bad) return Unreadable{};
    if (!value) return std::monostate{};
    return make(*value);
}

// The cell as a text-table shows it: guest bytes that are not printable
// ASCII (newlines and tabs included) as \xNN, "-" for no value, "?" for
// an unreadable one.
std::string cell_text(const Cell& cell);
nlohmann::json cell_json(const Cell& cell);

} // namespace vmi
