#pragma once
// What vmi-write writes, given as exactly one of: --hex BYTES, --string TEXT
// (with --nul, plus a terminating NUL), --u32 VALUE, --u64 VALUE
// (little-endian, like the guest), or --from FILE ("-" for stdin).
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace vmi {

struct WriteDataOptions {
    std::string hex;
    std::string text;
    bool nul = false;
    std::string u32;
    std::string u64;
    std::string from;
    // Which of the above were given (an empty --string "" counts as given).
    std::vector<const CLI::Option*> given;
};

void add_write_data_options(CLI::App& app, WriteDataOptions& options);

// The bytes to write; throws vmi::Error when none or more than one source is
// given, a value is malformed, the file cannot be read, or the data is empty.
std::vector<std::uint8_t> resolve_write_data(const WriteDataOptions& options);

// --from files and stdin are read up to this size.
constexpr std::uint64_t MAX_WRITE_BYTES = 256ULL << 20;

} // namespace vmi
