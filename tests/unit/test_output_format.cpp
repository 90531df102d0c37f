// --format parsing, JSON text that survives hostile guest strings, hex addresses.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "common/OutputFormat.hpp"
#include "vmi/base/Error.hpp"

TEST_CASE("output format: text, json, jsonl; anything else is an error")
{
    CHECK(vmi::parse_output_format("text") == vmi::OutputFormat::Text);
    CHECK(vmi::parse_output_format("json") == vmi::OutputFormat::Json);
    CHECK(vmi::parse_output_format("jsonl") == vmi::OutputFormat::JsonLines);
    CHECK_THROWS_WITH_AS(vmi::parse_output_format("JSON"),
                         "--format: unknown format 'JSON' (expected text, json or jsonl)", vmi::Error);
    CHECK_THROWS_WITH_AS(vmi::parse_output_format(""), "--format: unknown format '' (expected text, json or jsonl)",
                         vmi::Error);
}

TEST_CASE("output format: JSON text is compact; control characters are JSON escapes")
{
    nlohmann::json value = {{"pid", 1}, {"name", "init"}};
    CHECK(vmi::to_json_text(value) == "{\"name\":\"init\",\"pid\":1}");
    nlohmann::json control = {{"name", std::string("a\x1b[0m\n")}};
    CHECK(vmi::to_json_text(control) == "{\"name\":\"a\\u001b[0m\\n\"}");
}

TEST_CASE("output format: hex addresses")
{
    CHECK(vmi::hex_address(0) == "0x0");
    CHECK(vmi::hex_address(0x1000) == "0x1000");
    CHECK(vmi::hex_address(0xffffffff81000000ULL) == "0xffffffff81000000");
    CHECK(vmi::hex_address(~0ULL) == "0xffffffffffffffff");
}
