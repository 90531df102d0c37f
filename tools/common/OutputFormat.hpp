#pragma once
// --format text|json|jsonl, and writing JSON safely: guest strings may hold
// any bytes, and JSON strings must be UTF-8. Every string in our JSON is
// escaped the way text output escapes guest bytes, so the bytes can be had
// back: a backslash is written as two, a byte that is not part of valid
// UTF-8 as \xNN (backslash, x, two lowercase hex digits); valid UTF-8 is kept
// as it is. A reader parses the JSON, then reads each string left to right,
// turning \\ into \ and \xNN into the byte NN.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace vmi {

enum class OutputFormat { Text, Json, JsonLines };

OutputFormat parse_output_format(std::string_view text);
// One string escaped as above.
std::string json_escape_bytes(std::string_view text);
// Compact JSON text of `value`, every string (keys too) escaped as above.
std::string to_json_text(const nlohmann::json& value);
// "0xffffffff81000000": addresses go into JSON as hex strings, so 64-bit
// values survive tools that read numbers as doubles.
std::string hex_address(std::uint64_t value);

} // namespace vmi
