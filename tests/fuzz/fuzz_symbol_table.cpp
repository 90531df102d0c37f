// System.map and /proc/kallsyms text: SymbolTable::parse, then every lookup
// the tools make (by name, nearest below an address, by glob, after a slide).
#include <cstddef>
#include <cstdint>
#include <string>

#include "FuzzSupport.hpp"
#include "vmi/symbols/SymbolTable.hpp"

namespace {

void check_lookups(const vmi::SymbolTable& table)
{
    for (const vmi::Symbol& symbol : table.symbols()) {
        const vmi::Symbol* found = table.find(symbol.name);
        if (!found || found->name != symbol.name) vmi_fuzz::invariant_failed("a symbol of the table is not found");
    }
    (void)table.find("init_task");
    // Lookups at, just below and just above a few symbols, and at the ends.
    const std::size_t count = table.size();
    for (std::size_t i = 0; i < count; i += 1 + count / 8) {
        std::uint64_t address = table.symbols()[i].address;
        for (std::uint64_t at : {address, address - 1, address + 1}) {
            vmi::SymbolTable::Nearest nearest = table.nearest_below(at);
            if (nearest.symbol && (nearest.symbol->address > at || at - nearest.symbol->address != nearest.offset))
                vmi_fuzz::invariant_failed("nearest_below gave a symbol above the address");
        }
    }
    (void)table.nearest_below(0);
    (void)table.nearest_below(~std::uint64_t{0});
    (void)table.match("*");
    (void)table.match("sys_*");
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***)
{
    vmi_fuzz::silence_library_messages();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    try {
        vmi::SymbolTable table =
            vmi::SymbolTable::parse(std::string(reinterpret_cast<const char*>(data), size), "fuzz.map");
        if (table.size() == 0) vmi_fuzz::invariant_failed("a table without symbols was accepted");
        check_lookups(table);
        try {
            (void)table.require("linux_banner");
        } catch (const vmi::Error& e) {
            vmi_fuzz::check_error(e);
        }
        // A KASLR slide taken from the table itself, as the locator finds one.
        table.relocate(static_cast<std::int64_t>(0xffffffff80000000ULL - table.symbols().front().address));
        check_lookups(table);
    } catch (const vmi::Error& e) {
        vmi_fuzz::check_error(e);
    }
    return 0;
}
