// SymbolExpression: "NAME" and "NAME+OFF" as given to --ksym.
#include <doctest/doctest.h>

#include "vmi/base/Error.hpp"
#include "vmi/symbols/SymbolExpression.hpp"

using vmi::SymbolExpression;

TEST_CASE("ksym expression: name and optional offset")
{
    auto plain = SymbolExpression::parse("init_task");
    CHECK(plain.name == "init_task");
    CHECK(plain.offset == 0u);
    auto hex = SymbolExpression::parse("init_task+0x4f0");
    CHECK(hex.name == "init_task");
    CHECK(hex.offset == 0x4f0u);
    auto dec = SymbolExpression::parse("linux_banner+16");
    CHECK(dec.name == "linux_banner");
    CHECK(dec.offset == 16u);
}

TEST_CASE("ksym expression: errors")
{
    CHECK_THROWS_WITH_AS(SymbolExpression::parse(""), "--ksym: missing symbol name in ''", vmi::Error);
    CHECK_THROWS_WITH_AS(SymbolExpression::parse("+0x10"), "--ksym: missing symbol name in '+0x10'", vmi::Error);
    CHECK_THROWS_WITH_AS(SymbolExpression::parse("init_task+"), "--ksym offset: invalid number '': empty number",
                         vmi::Error);
    CHECK_THROWS_WITH_AS(SymbolExpression::parse("init_task+4f0"),
                         "--ksym offset: invalid number '4f0': not a decimal number (hex needs a 0x prefix)",
                         vmi::Error);
    CHECK_THROWS_WITH_AS(SymbolExpression::parse("a+1+2"), "--ksym offset: invalid number '1+2': not a number",
                         vmi::Error);
}
