#pragma once
// A file that readers see whole or not at all: written to a temporary file
// beside it (named with the writer's pid) and renamed over it.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace vmi {

// Writes `bytes` to `path`, creating its folder; false (and no temporary file
// left) if any step failed.
bool write_file_atomically(const std::string& path, std::span<const std::uint8_t> bytes, mode_t mode = 0600);
bool write_file_atomically(const std::string& path, std::string_view text, mode_t mode = 0600);

} // namespace vmi
