// try_parse_u64 / parse_u64: "0x" hex or plain decimal, nothing else.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "vmi/base/Error.hpp"
#include "vmi/base/NumberParser.hpp"

using vmi::parse_u64;
using vmi::try_parse_u64;

namespace {

std::string problem(std::string_view text)
{
    vmi::ParsedNumber parsed = try_parse_u64(text);
    CHECK_FALSE(parsed.value.has_value());
    return parsed.problem;
}

std::uint64_t value(std::string_view text)
{
    vmi::ParsedNumber parsed = try_parse_u64(text);
    INFO("text: " << text << " problem: " << parsed.problem);
    REQUIRE(parsed.value.has_value());
    CHECK(parsed.problem.empty());
    return *parsed.value;
}

} // namespace

TEST_CASE("numbers: decimal")
{
    CHECK(value("0") == 0u);
    CHECK(value("1") == 1u);
    CHECK(value("10") == 10u);
    CHECK(value("1234") == 1234u);
    CHECK(value("4294967296") == 0x100000000ULL);
    CHECK(value("18446744073709551615") == 0xffffffffffffffffULL);
}

TEST_CASE("numbers: hex with 0x or 0X, either case of digits")
{
    CHECK(value("0x0") == 0u);
    CHECK(value("0x10") == 16u);
    CHECK(value("0X10") == 16u);
    CHECK(value("0x4f0") == 0x4f0u);
    CHECK(value("0x4F0") == 0x4f0u);
    CHECK(value("0xffffffff81000000") == 0xffffffff81000000ULL);
    CHECK(value("0xFFFFFFFFFFFFFFFF") == 0xffffffffffffffffULL);
    CHECK(value("0x0000000000000000000001") == 1u); // leading zeros after 0x are fine
}

TEST_CASE("numbers: a leading zero is an error, not octal")
{
    const std::string leading = "leading zero (write 0x... for hex; octal is not accepted)";
    CHECK(problem("0755") == leading);
    CHECK(problem("00") == leading);
    CHECK(problem("01") == leading);
    CHECK(problem("08") == leading);
    CHECK(problem("00x10") == leading);
}

TEST_CASE("numbers: overflow")
{
    CHECK(problem("18446744073709551616") == "number does not fit in 64 bits");
    CHECK(problem("99999999999999999999999") == "number does not fit in 64 bits");
    CHECK(problem("0x10000000000000000") == "number does not fit in 64 bits");
    CHECK(problem("0xffffffffffffffff0") == "number does not fit in 64 bits");
}

TEST_CASE("numbers: empty and '0x' alone")
{
    CHECK(problem("") == "empty number");
    CHECK(problem("0x") == "'0x' without hex digits");
    CHECK(problem("0X") == "'0x' without hex digits");
}

TEST_CASE("numbers: bare hex gets the 0x hint, other junk does not")
{
    const std::string hint = "not a decimal number (hex needs a 0x prefix)";
    CHECK(problem("ff") == hint);
    CHECK(problem("4f0") == hint);
    CHECK(problem("ffffffff81000000") == hint);
    CHECK(problem("DEADBEEF") == hint);
    CHECK(problem("12ab") == hint);

    CHECK(problem("xyz") == "not a number");
    CHECK(problem("12z") == "not a number");
    CHECK(problem("-1") == "not a number");
    CHECK(problem("+1") == "not a number");
    CHECK(problem(" 1") == "not a number");
    CHECK(problem("1 ") == "not a number");
    CHECK(problem("1.5") == "not a number");
    CHECK(problem("0x12g") == "not a hex number");
    CHECK(problem("0xx1") == "not a hex number");
    CHECK(problem("0x-1") == "not a hex number");
    CHECK(problem("0x 1") == "not a hex number");
}

TEST_CASE("numbers: parse_u64 names what was being parsed")
{
    CHECK(parse_u64("0x1000", "--pa") == 0x1000u);
    CHECK(parse_u64("42", "--length") == 42u);
    CHECK_THROWS_WITH_AS(parse_u64("zz", "--pa"), "--pa: invalid number 'zz': not a number", vmi::Error);
    CHECK_THROWS_WITH_AS(parse_u64("0755", "--length"),
                         "--length: invalid number '0755': leading zero (write 0x... for hex; octal is not accepted)",
                         vmi::Error);
    CHECK_THROWS_WITH_AS(parse_u64("", "--dtb"), "--dtb: invalid number '': empty number", vmi::Error);
    CHECK_THROWS_WITH_AS(parse_u64("ffff", "--va"),
                         "--va: invalid number 'ffff': not a decimal number (hex needs a 0x prefix)", vmi::Error);
}
