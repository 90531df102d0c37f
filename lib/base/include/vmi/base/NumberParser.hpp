#pragma once
// Strict number syntax shared by config files and command lines: "0x" hex or
// plain decimal. A leading zero that is not "0x" is rejected rather than read
// as octal, because "0755" meaning 493 surprises everyone who did not mean it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vmi {

// Returns the value, or an explanation of why `text` is not a number.
struct ParsedNumber {
    std::optional<std::uint64_t> value;
    std::string problem;
};
ParsedNumber try_parse_u64(std::string_view text);

// Throws vmi::Error naming `what` (e.g. "--pa") when `text` is not a number.
std::uint64_t parse_u64(std::string_view text, std::string_view what);

} // namespace vmi
