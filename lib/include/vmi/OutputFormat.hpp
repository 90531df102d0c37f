#pragma once
// --format text|json|jsonl, and writing JSON safely: guest strings may hold
// any bytes, so invalid UTF-8 is replaced rather than aborting the dump.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace vmi {

enum class OutputFormat { Text, Json, JsonLines };

OutputFormat parse_output_format(std::string_view text);
std::string to_json_text(const nlohmann::json& value);
// "0xffffffff81000000": addresses go into JSON as hex strings, so 64-bit
// values survive tools that read numbers as doubles.
std::string hex_address(std::uint64_t value);

} // namespace vmi
