// vmi-ksym: kernel symbols to addresses (vmi_translate_ksym2v) and back.
#include <vector>

#include "common/ColumnTable.hpp"
#include "common/Guest.hpp"
#include "common/ToolMain.hpp"
#include "vmi/base/NumberParser.hpp"

namespace {

using vmi::Align;

// One answer: a symbol, and for --reverse the address asked about.
struct SymbolRow {
    const vmi::Symbol& symbol;
    std::optional<std::uint64_t> query;
    std::uint64_t offset = 0;
};

vmi::Cell optional_text(std::string_view text)
{
    return text.empty() ? vmi::Cell(std::monostate{}) : vmi::Cell(std::string(text));
}

const vmi::ColumnTable<SymbolRow>& columns()
{
    static const vmi::ColumnTable<SymbolRow> table(
        {
            {"address", "ADDRESS", Align::Left, "the symbol's address (KASLR slide applied)",
             [](const SymbolRow& r) { return vmi::Cell(vmi::Address{r.symbol.address}); }},
            {"type", "TYPE", Align::Left, "System.map type letter (T text, D data, ...)",
             [](const SymbolRow& r) { return vmi::Cell(std::string(1, r.symbol.type)); }},
            {"name", "NAME", Align::Left, "symbol name",
             [](const SymbolRow& r) { return vmi::Cell(std::string(r.symbol.name)); }},
            {"module", "MODULE", Align::Left, "module it belongs to (none for the kernel image)",
             [](const SymbolRow& r) { return optional_text(r.symbol.module); }},
            {"query", "QUERY", Align::Left, "the address asked about (--reverse)",
             [](const SymbolRow& r) {
                 return r.query ? vmi::Cell(vmi::Address{*r.query}) : vmi::Cell(std::monostate{});
             }},
            {"offset", "OFFSET", Align::Right, "how far past the symbol the address lies (--reverse)",
             [](const SymbolRow& r) { return r.query ? vmi::Cell(r.offset) : vmi::Cell(std::monostate{}); }},
            {"location", "LOCATION", Align::Left, "NAME+0xOFFSET [MODULE]",
             [](const SymbolRow& r) {
                 std::string where =
                     r.offset ? fmt::format("{}+{:#x}", r.symbol.name, r.offset) : std::string(r.symbol.name);
                 if (!r.symbol.module.empty()) where += fmt::format(" [{}]", r.symbol.module);
                 return vmi::Cell(where);
             }},
        },
        "address");
    return table;
}

struct KsymOptions {
    vmi::GuestOptions guest;
    std::string columns;
    std::vector<std::string> names;
    std::vector<std::string> reverse;
    std::vector<std::string> patterns;
};

// Prints one kind of answer: text without a header (like nm and kallsyms,
// so `$(vmi-ksym NAME)` is an address), or JSON.
class Printer {
public:
    Printer(const KsymOptions& options) : options_(options), format_(options.guest.format()) {}

    void add(std::string_view text_defaults, const std::vector<SymbolRow>& rows)
    {
        std::string_view list = options_.columns;
        if (list.empty() && format_ == vmi::OutputFormat::Text) list = text_defaults;
        auto chosen = columns().select(list, format_);
        for (const SymbolRow& row : rows) {
            headings_ = columns().headings(chosen);
            rows_.push_back(columns().cells(chosen, row));
            if (format_ == vmi::OutputFormat::Json) continue;
            vmi::print_output(vmi::render_table(headings_, {rows_.back()}, {format_, false, true}));
            rows_.clear();
        }
    }

    // A JSON array holds every answer, so it is made once all are in (and
    // printed only if the tool succeeds: see run_tool).
    void finish()
    {
        if (format_ == vmi::OutputFormat::Json) vmi::print_output(vmi::render_table(headings_, rows_, {format_}));
    }

private:
    const KsymOptions& options_;
    vmi::OutputFormat format_;
    std::vector<vmi::ColumnHeading> headings_;
    std::vector<std::vector<vmi::Cell>> rows_;
};

int run(KsymOptions& options)
{
    // With --image or --sysmap the guest needs no config entry, so a first
    // word that names none is a symbol: "vmi-ksym --sysmap FILE linux_banner".
    // With --backend kvm or xen the first word is the libvirt or Xen domain.
    std::vector<std::string> names = options.names;
    bool guest_given_by_flags = (!options.guest.image.empty() || !options.guest.sysmap.empty()) &&
                                options.guest.backend != "kvm" && options.guest.backend != "xen";
    if (!options.guest.vm.empty() && guest_given_by_flags &&
        !vmi::Session::config_names_entry(vmi::session_settings(options.guest))) {
        names.insert(names.begin(), options.guest.vm);
        options.guest.vm.clear();
    }
    if (names.empty() && options.reverse.empty() && options.patterns.empty())
        vmi::fail("nothing to do: give SYMBOL names, --reverse ADDR or --list PATTERN");
    columns().select(options.columns); // a bad -o fails before the guest is opened

    vmi::Guest guest(options.guest, /*memory_optional=*/true);
    const vmi::SymbolTable& symbols = guest.kernel().symbols();
    Printer printer(options);
    for (const std::string& name : names) {
        const vmi::Symbol* symbol = symbols.find(name);
        if (!symbol) {
            vmi::report_error(fmt::format("symbol '{}' not found in '{}'", name, symbols.origin()));
            continue;
        }
        printer.add("address", {{*symbol, std::nullopt}});
    }
    for (const std::string& text : options.reverse) {
        std::uint64_t address = vmi::parse_u64(text, "--reverse");
        vmi::SymbolTable::Nearest nearest = symbols.nearest_below(address);
        if (!nearest.symbol) {
            vmi::report_error(fmt::format("no symbol at or below {:#x}", address));
            continue;
        }
        printer.add("location", {{*nearest.symbol, address, nearest.offset}});
    }
    for (const std::string& pattern : options.patterns) {
        std::vector<SymbolRow> rows;
        for (const vmi::Symbol* symbol : symbols.match(pattern)) rows.push_back({*symbol, std::nullopt});
        if (rows.empty()) {
            vmi::report_error(fmt::format("no symbol matches '{}'", pattern));
        }
        printer.add("address,type,name,module", rows);
    }
    printer.finish();
    return vmi::EXIT_OK; // with an error reported above, run_tool makes it 2
}

} // namespace

int main(int argc, char** argv)
{
    KsymOptions options;
    return vmi::run_tool(
        "vmi-ksym", "Resolve guest kernel symbols to addresses and back, or list them.", argc, argv,
        [&](CLI::App& app) {
            vmi::add_guest_options(app, options.guest);
            app.add_option("SYMBOL", options.names, "Symbols to print the address of");
            app.add_option("-r,--reverse", options.reverse, "Address to turn into SYMBOL+0xOFF (repeatable)");
            app.add_option("-l,--list", options.patterns, "List symbols matching a shell glob (repeatable)");
            app.add_option("-o,--output,--columns", options.columns,
                           "Columns, comma-separated (default: address for SYMBOLs, location for --reverse, "
                           "address,type,name,module for --list; see below)");
            app.footer(columns().help() + "\n" + app.get_footer());
        },
        [&] { return run(options); });
}
