#pragma once
// xxd-style dump: "ADDRESS: 4c69 6e75 7820 7665 ...  Linux ve..."
#include <cstdint>
#include <span>
#include <string>

namespace vmi {

std::string hexdump(std::uint64_t start_address, std::span<const std::uint8_t> bytes);
// Guest text made safe for a terminal: printable ASCII as is, \n and \t
// kept, every other byte as \xNN (a hostile guest cannot send escape codes).
std::string printable(std::string_view text);

} // namespace vmi
