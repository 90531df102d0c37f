#include "vmi/OutputFormat.hpp"

#include "vmi/Error.hpp"

namespace vmi {

OutputFormat parse_output_format(std::string_view text)
{
    if (text == "text") return OutputFormat::Text;
    if (text == "json") return OutputFormat::Json;
    if (text == "jsonl") return OutputFormat::JsonLines;
    fail("--format: unknown format '{}' (expected text, json or jsonl)", text);
}

std::string to_json_text(const nlohmann::json& value)
{
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string hex_address(std::uint64_t value) { return fmt::format("{:#x}", value); }

} // namespace vmi
