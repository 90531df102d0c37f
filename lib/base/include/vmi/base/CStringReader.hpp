#pragma once
// Reads a NUL-terminated string through any reader, page by page, never past
// `max_length` bytes and never into a page it does not need.
#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace vmi {

using ByteReader = std::function<void(std::uint64_t address, std::span<std::uint8_t> out)>;

std::string read_c_string(const ByteReader& read, std::uint64_t address, std::size_t max_length,
                          bool* terminated = nullptr);

} // namespace vmi
