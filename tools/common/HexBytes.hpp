#pragma once
// Bytes spelled as hex digits, in memory order: "deadbeef" or "de ad be ef"
// in, "deadbeef" out. Not numbers: no 0x prefix, no byte swapping.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vmi {

// Whitespace may separate groups of digits; each group must hold whole bytes
// (an even number of digits). Throws vmi::Error naming `what` (e.g. "--hex").
std::vector<std::uint8_t> parse_hex_bytes(std::string_view text, std::string_view what);

// Two lowercase digits per byte, nothing between them.
std::string hex_string(std::span<const std::uint8_t> bytes);

} // namespace vmi
