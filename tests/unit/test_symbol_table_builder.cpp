// SymbolTableBuilder: a SymbolTable from symbols given one by one (decoded
// kallsyms), with the lookups of a parsed one and names that survive moves.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "vmi/base/Error.hpp"
#include "vmi/symbols/SymbolTable.hpp"
#include "vmi/symbols/SymbolTableBuilder.hpp"

using vmi::SymbolTable;
using vmi::SymbolTableBuilder;

namespace {

SymbolTable sample()
{
    SymbolTableBuilder builder;
    builder.reserve(8, 128);
    builder.add(0, 'A', "fixed_percpu_data");
    builder.add(0x1e0, 'A', "__per_cpu_start");
    builder.add(0xffffffff81000000ULL, 'T', "_text");
    builder.add(0xffffffff81001000ULL, 't', "verify_cpu");
    builder.add(0xffffffff810a5c20ULL, 'T', "do_exit");
    builder.add(0xffffffff82a15940ULL, 'D', "init_task");
    builder.add(0xffffffffc0002000ULL, 't', "fuse_init", "fuse");
    builder.add(0xffffffffc0003000ULL, 't', "do_exit", "fuse"); // the image's wins in find()
    CHECK(builder.size() == 8);
    return builder.build("kallsyms in guest memory");
}

} // namespace

TEST_CASE("SymbolTableBuilder: lookups by name, address and glob, as on a parsed table")
{
    SymbolTable table = sample();
    CHECK(table.size() == 8);
    CHECK(table.origin() == "kallsyms in guest memory");
    CHECK(table.require("init_task").address == 0xffffffff82a15940ULL);
    CHECK(table.require("init_task").type == 'D');
    CHECK(table.require("do_exit").module.empty());
    CHECK(table.require("fuse_init").module == "fuse");
    CHECK(table.find("nothing") == nullptr);
    CHECK_THROWS_WITH_AS(table.require("nothing"), doctest::Contains("kallsyms in guest memory"), vmi::Error);

    SymbolTable::Nearest near = table.nearest_below(0xffffffff810a5c30ULL);
    REQUIRE(near.symbol);
    CHECK(near.symbol->name == "do_exit");
    CHECK(near.offset == 0x10);
    CHECK(table.nearest_below(0x1e0).symbol == nullptr); // absolute symbols are not places

    std::vector<const vmi::Symbol*> matches = table.match("do_*");
    REQUIRE(matches.size() == 2);
    CHECK(matches[0]->address == 0xffffffff810a5c20ULL);
    CHECK(matches[1]->module == "fuse");

    table.relocate(0x1000000);
    CHECK(table.require("_text").address == 0xffffffff82000000ULL);
    CHECK(table.require("fixed_percpu_data").address == 0);
}

TEST_CASE("SymbolTableBuilder: names stay valid as the table moves")
{
    std::vector<SymbolTable> tables;
    for (int i = 0; i < 16; ++i) tables.push_back(sample()); // the vector reallocates: tables move
    SymbolTable moved = std::move(tables[3]);
    CHECK(moved.require("verify_cpu").name == "verify_cpu");
    CHECK(tables[15].find("_text")->name == "_text");
}

TEST_CASE("SymbolTableBuilder: names a kallsyms line could not carry are refused")
{
    SymbolTableBuilder builder;
    CHECK_THROWS_AS(builder.add(1, 'T', ""), vmi::Error);
    CHECK_THROWS_AS(builder.add(1, 'T', "two words"), vmi::Error);
    CHECK_THROWS_AS(builder.add(1, 'T', "new\nline"), vmi::Error);
    CHECK_THROWS_AS(builder.add(1, 'T', "escape\x1b[0m"), vmi::Error);
    CHECK_THROWS_AS(builder.add(1, 'T', std::string(SymbolTable::MAX_NAME_LENGTH + 1, 'a')), vmi::Error);
    CHECK_THROWS_AS(builder.add(1, ' ', "name"), vmi::Error);
    CHECK_THROWS_AS(builder.add(1, 'T', "name", "mod ule"), vmi::Error);
    builder.add(1, 'T', std::string(SymbolTable::MAX_NAME_LENGTH, 'a'));
    CHECK(builder.build("x").size() == 1);
    CHECK(builder.size() == 0); // left empty
    CHECK_THROWS_WITH_AS(builder.build("empty"), doctest::Contains("holds no symbols"), vmi::Error);
}
