// SymbolTable: System.map and /proc/kallsyms text, lookups by name, address
// and glob, relocation by a KASLR slide.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include "vmi/base/Error.hpp"
#include "vmi/symbols/SymbolTable.hpp"

using vmi::Symbol;
using vmi::SymbolTable;

namespace {

const char* const SYSTEM_MAP = "0000000000000000 A fixed_percpu_data\n"
                               "00000000000001e0 A __per_cpu_start\n"
                               "ffffffff81000000 T _text\n"
                               "ffffffff81000000 T startup_64\n"
                               "ffffffff81001000 t verify_cpu\n"
                               "ffffffff810a5c20 T do_exit\n"
                               "ffffffff810a6f10 T do_group_exit\n"
                               "ffffffff82000000 R __start_rodata\n"
                               "ffffffff82a15940 D init_task\n"
                               "ffffffff82c00000 B __bss_start\n";

std::string parse_error(const std::string& text, const std::string& origin = "System.map")
{
    try {
        SymbolTable::parse(text, origin);
    } catch (const vmi::Error& e) {
        return e.what();
    }
    return "(no error)";
}

std::vector<std::string> names(const std::vector<const Symbol*>& symbols)
{
    std::vector<std::string> out;
    for (const Symbol* s : symbols) out.emplace_back(s->name);
    return out;
}

// _text and startup_64 share an address: either is a right answer.
bool is_text_alias(const Symbol* symbol, std::uint64_t address = 0xffffffff81000000ULL)
{
    return symbol && (symbol->name == "_text" || symbol->name == "startup_64") && symbol->address == address;
}

} // namespace

TEST_CASE("symbols: System.map lines")
{
    SymbolTable table = SymbolTable::parse(SYSTEM_MAP, "System.map-6.1.0");
    CHECK(table.origin() == "System.map-6.1.0");
    REQUIRE(table.size() == 10);
    const Symbol& first = table.symbols()[0];
    CHECK(first.address == 0);
    CHECK(first.type == 'A');
    CHECK(first.name == "fixed_percpu_data");
    CHECK(first.module.empty());
    const Symbol& init = table.require("init_task");
    CHECK(init.address == 0xffffffff82a15940ULL);
    CHECK(init.type == 'D');
    CHECK(init.module.empty());
    CHECK(table.find("verify_cpu")->type == 't');
    CHECK(table.find("__bss_start")->type == 'B');
}

TEST_CASE("symbols: kallsyms lines with CRLF endings and [module] suffixes")
{
    const std::string kallsyms = "ffffffff81000000 T _text\r\n"
                                 "ffffffff81000000 T startup_64\r\n"
                                 "ffffffff811234a0 T loop_register_transfer\r\n"
                                 "ffffffffc0a01000 t dummy_init\t[dummy]\r\n"
                                 "ffffffffc0a01100 t dummy_setup\t[dummy]\r\n"
                                 "ffffffffc0b02000 T loop_register_transfer\t[loop]\r\n"
                                 "ffffffffc0b02040 d __this_module\t[loop]\r\n"
                                 "ffffffffc0a02040 d __this_module\t[dummy]\r\n"
                                 "\r\n";
    SymbolTable table = SymbolTable::parse(kallsyms, "kallsyms");
    REQUIRE(table.size() == 8);
    const Symbol* setup = table.find("dummy_setup");
    REQUIRE(setup);
    CHECK(setup->address == 0xffffffffc0a01100ULL);
    CHECK(setup->type == 't');
    CHECK(setup->name == "dummy_setup"); // no '\t' or '\r' left in the name
    CHECK(setup->module == "dummy");     // brackets stripped
    CHECK(table.find("_text")->module.empty());
    CHECK(table.find("startup_64")->name == "startup_64");
    // Kernel image symbols win over module symbols of the same name...
    CHECK(table.find("loop_register_transfer")->address == 0xffffffff811234a0ULL);
    CHECK(table.find("loop_register_transfer")->module.empty());
    // ...and among modules, the first one listed wins.
    CHECK(table.find("__this_module")->module == "loop");
    CHECK(table.find("__this_module")->address == 0xffffffffc0b02040ULL);
}

TEST_CASE("symbols: a kernel symbol listed after a module symbol of the same name still wins")
{
    SymbolTable table = SymbolTable::parse("ffffffffc0000000 T foo\t[mod]\nffffffff81000000 T foo\n", "kallsyms");
    CHECK(table.find("foo")->address == 0xffffffff81000000ULL);
    CHECK(table.find("foo")->module.empty());
}

TEST_CASE("symbols: blank lines and spaces are tolerated, lines are counted")
{
    SymbolTable table = SymbolTable::parse("\n   \nffffffff81000000   T\t_text  \n\n", "x");
    CHECK(table.size() == 1);
    CHECK(table.find("_text")->address == 0xffffffff81000000ULL);
    CHECK(parse_error("\n\nffffffff81000000 T _text\n\nbroken\n") ==
          "System.map:5: not a System.map or kallsyms line (expected 'ADDRESS TYPE NAME')");
}

TEST_CASE("symbols: find and require")
{
    SymbolTable table = SymbolTable::parse(SYSTEM_MAP, "System.map-6.1.0");
    CHECK(table.find("do_exit") == &table.require("do_exit"));
    CHECK(table.find("do_exi") == nullptr);
    CHECK(table.find("DO_EXIT") == nullptr);
    CHECK(table.find("") == nullptr);
    CHECK_THROWS_WITH_AS(table.require("init_tsk"), "symbol 'init_tsk' not found in 'System.map-6.1.0'", vmi::Error);
    // Duplicate names in the image: the first one listed.
    SymbolTable dup = SymbolTable::parse("ffffffff81000100 t helper\nffffffff81000200 t helper\n", "m");
    CHECK(dup.find("helper")->address == 0xffffffff81000100ULL);
}

TEST_CASE("symbols: nearest_below")
{
    SymbolTable table = SymbolTable::parse(SYSTEM_MAP, "System.map");
    SUBCASE("exact address gives offset 0; aliases at one address give one of them")
    {
        auto n = table.nearest_below(0xffffffff810a5c20ULL);
        REQUIRE(n.symbol);
        CHECK(n.symbol->name == "do_exit");
        CHECK(n.offset == 0);
        auto t = table.nearest_below(0xffffffff81000000ULL);
        REQUIRE(t.symbol);
        CHECK(is_text_alias(t.symbol));
        CHECK(t.offset == 0);
        auto u = table.nearest_below(0xffffffff81000fffULL);
        REQUIRE(u.symbol);
        CHECK(is_text_alias(u.symbol));
        CHECK(u.offset == 0xfffu);
    }
    SUBCASE("between symbols")
    {
        auto n = table.nearest_below(0xffffffff810a6f0fULL);
        REQUIRE(n.symbol);
        CHECK(n.symbol->name == "do_exit");
        CHECK(n.offset == 0x12efu);
        auto m = table.nearest_below(0xffffffff810a6f11ULL);
        CHECK(m.symbol->name == "do_group_exit");
        CHECK(m.offset == 1u);
    }
    SUBCASE("past the last symbol")
    {
        auto n = table.nearest_below(0xffffffffffffffffULL);
        REQUIRE(n.symbol);
        CHECK(n.symbol->name == "__bss_start");
        CHECK(n.offset == 0x7d3fffffULL);
    }
    SUBCASE("below the first symbol, absolute symbols skipped")
    {
        // 0x1e0 and 0 are absolute ('A'): a small number is not "fixed_percpu_data+0x10".
        auto n = table.nearest_below(0x10);
        CHECK(n.symbol == nullptr);
        CHECK(n.offset == 0);
        auto m = table.nearest_below(0xffffffff80ffffffULL);
        CHECK(m.symbol == nullptr);
    }
    SUBCASE("lower-case 'a' is absolute too")
    {
        SymbolTable t = SymbolTable::parse("0000000000001000 a abs_small\n0000000000002000 T real\n", "m");
        CHECK(t.nearest_below(0x1800).symbol == nullptr);
        CHECK(t.nearest_below(0x2800).symbol->name == "real");
    }
}

TEST_CASE("symbols: glob match in address order")
{
    SymbolTable table = SymbolTable::parse(SYSTEM_MAP, "System.map");
    CHECK(names(table.match("do_*")) == std::vector<std::string>{"do_exit", "do_group_exit"});
    CHECK(names(table.match("*_start*")) ==
          std::vector<std::string>{"__start_rodata", "__bss_start", "__per_cpu_start"});
    CHECK(names(table.match("init_tas?")) == std::vector<std::string>{"init_task"});
    CHECK(names(table.match("[sv]*")) == std::vector<std::string>{"startup_64", "verify_cpu"});
    CHECK(table.match("nothing*").empty());
    CHECK(names(table.match("init_task")) == std::vector<std::string>{"init_task"});
    CHECK(table.match("*").size() == table.size());
}

TEST_CASE("symbols: relocate adds the slide to every non-absolute symbol")
{
    SymbolTable table = SymbolTable::parse(SYSTEM_MAP, "System.map");
    table.relocate(0x1c000000);
    CHECK(table.find("_text")->address == 0xffffffff9d000000ULL);
    CHECK(table.find("init_task")->address == 0xffffffff9ea15940ULL);
    CHECK(table.find("__per_cpu_start")->address == 0x1e0u); // absolute: unchanged
    CHECK(table.find("fixed_percpu_data")->address == 0u);
    auto n = table.nearest_below(0xffffffff9d000010ULL);
    REQUIRE(n.symbol);
    CHECK(is_text_alias(n.symbol, 0xffffffff9d000000ULL));
    CHECK(n.offset == 0x10u);
    CHECK(table.nearest_below(0xffffffff9d001000ULL).symbol->name == "verify_cpu");
    CHECK(table.nearest_below(0xffffffff81000010ULL).symbol == nullptr);

    table.relocate(-0x1c000000);
    CHECK(table.find("_text")->address == 0xffffffff81000000ULL);
    table.relocate(-0x1000);
    CHECK(table.find("_text")->address == 0xffffffff80fff000ULL);
    CHECK(is_text_alias(table.nearest_below(0xffffffff80fff000ULL).symbol, 0xffffffff80fff000ULL));
}

TEST_CASE("symbols: Debian's placeholder System.map is rejected with a helpful message")
{
    const std::string placeholder =
        "ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n";
    CHECK(parse_error(placeholder, "/boot/System.map-6.1.0-13-amd64") ==
          "'/boot/System.map-6.1.0-13-amd64' is Debian's placeholder System.map; the real one is in the "
          "linux-image-<release>-dbg package (/usr/lib/debug/boot/System.map-<release>), or use a copy of the guest's "
          "/proc/kallsyms");
}

TEST_CASE("symbols: all-zero addresses (kptr_restrict) are rejected")
{
    const std::string restricted = "0000000000000000 T _text\r\n"
                                   "0000000000000000 T startup_64\r\n"
                                   "0000000000000000 t dummy_init\t[dummy]\r\n";
    CHECK(parse_error(restricted, "kallsyms.txt") ==
          "every address in 'kallsyms.txt' is zero: /proc/kallsyms was read without privilege (read it as root, or "
          "set kernel.kptr_restrict=0)");
}

TEST_CASE("symbols: garbage and empty input are rejected with origin:line:")
{
    const std::string expected_line = ": not a System.map or kallsyms line (expected 'ADDRESS TYPE NAME')";
    CHECK(parse_error("ffffffff81000000 T _text\nhello world\n", "map") == "map:2" + expected_line);
    CHECK(parse_error("ffffffff81000000 T _text\nffffffff81000010 T\n", "map") == "map:2" + expected_line);
    CHECK(parse_error("ffffffff81000000 TT _text\n", "map") == "map:1" + expected_line);
    CHECK(parse_error("0xffffffff81000000 T _text\n", "map") == "map:1" + expected_line);
    CHECK(parse_error("fffffffg81000000 T _text\n", "map") == "map:1" + expected_line);
    CHECK(parse_error("1ffffffff81000000 T _text\n", "map") == "map:1" + expected_line); // 65 bits
    CHECK(parse_error("<html>\n", "map") == "map:1" + expected_line);
    CHECK(parse_error("", "empty.map") == "'empty.map' holds no symbols");
    CHECK(parse_error("\n\r\n  \n", "blank.map") == "'blank.map' holds no symbols");
    CHECK(parse_error("ffffffff81000000 T " + std::string(513, 'x') + "\n", "map") ==
          "map:1: symbol name longer than 512 bytes");
    CHECK_NOTHROW(SymbolTable::parse("ffffffff81000000 T " + std::string(512, 'x') + "\n", "map"));
}

TEST_CASE("symbols: load reads a file and names a missing one")
{
    auto dir = std::filesystem::temp_directory_path() / ("vmi-symbols-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::string path = (dir / "System.map").string();
    {
        std::ofstream out(path, std::ios::binary);
        out << SYSTEM_MAP;
    }
    SymbolTable table = SymbolTable::load(path);
    CHECK(table.origin() == path);
    CHECK(table.size() == 10);
    std::filesystem::remove_all(dir);
    CHECK_THROWS_WITH_AS(SymbolTable::load(path),
                         ("cannot open symbol file '" + path + "': No such file or directory").c_str(), vmi::Error);
}

TEST_CASE("symbols: a moved table keeps working")
{
    std::optional<SymbolTable> holder;
    {
        SymbolTable table = SymbolTable::parse("ffffffff81000000 T a\nffffffff81000010 T bb\n", "m");
        holder = std::move(table);
    }
    REQUIRE(holder->find("bb"));
    CHECK(holder->find("bb")->address == 0xffffffff81000010ULL);
}

// A copy must not share the original's storage: if the table is copyable at
// all, the copy has to work after the original is gone (names used to be
// views into the original's strings). A template, so the copy is only
// compiled when the type allows it.
template <typename Table>
void check_copy_outlives_original()
{
    if constexpr (std::is_copy_constructible_v<Table>) {
        auto original =
            std::make_unique<Table>(Table::parse("ffffffff81000000 T a_symbol_name_longer_than_the_sso_buffer\n"
                                                 "ffffffff81000010 T another_long_symbol_name_here\n",
                                                 "m"));
        Table copy = *original;
        original.reset();
        const Symbol* s = copy.find("another_long_symbol_name_here");
        REQUIRE(s);
        CHECK(s->address == 0xffffffff81000010ULL);
        CHECK(s->name == "another_long_symbol_name_here");
    } else {
        CHECK_FALSE(std::is_copy_assignable_v<Table>);
    }
}

TEST_CASE("symbols: a copy, if copies are allowed, outlives the original")
{
    check_copy_outlives_original<SymbolTable>();
}

TEST_CASE("symbols: unsorted input (kallsyms module symbols) is looked up by address correctly")
{
    SymbolTable table = SymbolTable::parse("ffffffffc0a01000 t dummy_init\t[dummy]\n"
                                           "ffffffff81000000 T _stext\n"
                                           "ffffffffc0002000 t loop_init\t[loop]\n"
                                           "ffffffff82000000 D data_start\n"
                                           "ffffffffc0000000 t loop_exit\t[loop]\n",
                                           "kallsyms");
    CHECK(table.nearest_below(0xffffffffc0000010ULL).symbol->name == "loop_exit");
    CHECK(table.nearest_below(0xffffffffc0002010ULL).symbol->name == "loop_init");
    CHECK(table.nearest_below(0xffffffffc0a01010ULL).symbol->name == "dummy_init");
    CHECK(table.nearest_below(0xffffffff82000001ULL).symbol->name == "data_start");
    CHECK(table.nearest_below(0xffffffff81000001ULL).symbol->name == "_stext");
    CHECK(table.nearest_below(0xffffffff80000000ULL).symbol == nullptr);
    CHECK(names(table.match("*_*")) ==
          std::vector<std::string>{"_stext", "data_start", "loop_exit", "loop_init", "dummy_init"});
}

TEST_CASE("symbols: a large table finds every name and every address")
{
    // 20000 kernel symbols, 16 bytes apart, listed in a scrambled order,
    // plus module symbols that repeat every 10th kernel name.
    const std::size_t count = 20000;
    std::string text;
    std::vector<std::size_t> order(count);
    for (std::size_t i = 0; i < count; ++i) order[i] = (i * 7919) % count; // 7919 is prime: a permutation
    for (std::size_t i : order) text += fmt::format("{:016x} T sym_{}\n", 0xffffffff81000000ULL + i * 16, i);
    for (std::size_t i = 0; i < count; i += 10)
        text += fmt::format("{:016x} t sym_{}\t[mod{}]\n", 0xffffffffc0000000ULL + i * 16, i, i % 3);
    SymbolTable table = SymbolTable::parse(text, "big");
    CHECK(table.size() == count + count / 10);
    // One assertion per property, not per symbol.
    std::size_t wrong_find = 0, wrong_nearest = 0, found_missing = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const Symbol* s = table.find(fmt::format("sym_{}", i));
        if (!s || s->address != 0xffffffff81000000ULL + i * 16 || !s->module.empty()) ++wrong_find;
        auto n = table.nearest_below(0xffffffff81000000ULL + i * 16 + 15);
        if (!n.symbol || n.symbol != s || n.offset != 15) ++wrong_nearest;
    }
    for (std::size_t i = 0; i < 2000; ++i)
        if (table.find(fmt::format("sym_{}", count + i))) ++found_missing;
    CHECK(wrong_find == 0);
    CHECK(wrong_nearest == 0);
    CHECK(found_missing == 0);
    CHECK(table.find("sym_") == nullptr);
    CHECK(table.find("sym_00") == nullptr);
    CHECK(names(table.match("sym_1999?")) ==
          std::vector<std::string>{"sym_19990", "sym_19991", "sym_19992", "sym_19993", "sym_19994", "sym_19995",
                                   "sym_19996", "sym_19997", "sym_19998", "sym_19999", "sym_19990"});
    CHECK(table.match("sym_1999?").back()->module == "mod1"); // 19990 % 3
}
