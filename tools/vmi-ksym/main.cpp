// vmi-ksym: kernel symbols to addresses (vmi_translate_ksym2v) and back.
#include <vector>

#include "vmi/Error.hpp"
#include "vmi/NumberParser.hpp"
#include "vmi/OutputFormat.hpp"
#include "vmi/Session.hpp"
#include "vmi/ToolMain.hpp"

namespace {

struct KsymOptions {
    vmi::SessionOptions session;
    std::vector<std::string> names;
    std::vector<std::string> reverse;
    std::vector<std::string> patterns;
};

nlohmann::json symbol_json(const vmi::Symbol& symbol)
{
    nlohmann::json out{{"name", std::string(symbol.name)}, {"address", vmi::hex_address(symbol.address)}, {"type", std::string(1, symbol.type)}};
    out["module"] = symbol.module.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::string(symbol.module));
    return out;
}

class Printer {
public:
    explicit Printer(vmi::OutputFormat format) : format_(format) {}
    void add(const nlohmann::json& item, const std::string& text)
    {
        if (format_ == vmi::OutputFormat::Text) fmt::print("{}\n", text);
        else if (format_ == vmi::OutputFormat::JsonLines) fmt::print("{}\n", vmi::to_json_text(item));
        else items_.push_back(item);
    }
    ~Printer()
    {
        if (format_ == vmi::OutputFormat::Json) fmt::print("{}\n", vmi::to_json_text(items_));
    }

private:
    vmi::OutputFormat format_;
    nlohmann::json items_ = nlohmann::json::array();
};

int run(KsymOptions& options)
{
    // With --image or --sysmap the guest needs no config entry, so a first
    // word that names none is a symbol: "vmi-ksym --sysmap FILE linux_banner".
    // With --backend kvm the first word is the libvirt domain.
    std::vector<std::string> names = options.names;
    bool guest_given_by_flags = (!options.session.image.empty() || !options.session.sysmap.empty()) &&
                                options.session.backend != "kvm";
    if (!options.session.vm.empty() && guest_given_by_flags && !vmi::Session::config_names_entry(options.session)) {
        names.insert(names.begin(), options.session.vm);
        options.session.vm.clear();
    }
    if (names.empty() && options.reverse.empty() && options.patterns.empty())
        vmi::fail("nothing to do: give SYMBOL names, --reverse ADDR or --list PATTERN");

    vmi::Session session = vmi::Session::open(options.session, /*memory_optional=*/true);
    const vmi::SymbolTable& symbols = session.symbols();
    int status = vmi::EXIT_OK;
    {
        Printer printer(options.session.format());
        for (const std::string& name : names) {
            const vmi::Symbol* symbol = symbols.find(name);
            if (!symbol) {
                fmt::print(stderr, "vmi-ksym: symbol '{}' not found in '{}'\n", name, symbols.origin());
                status = vmi::EXIT_ERROR;
                continue;
            }
            printer.add(symbol_json(*symbol), vmi::hex_address(symbol->address));
        }
        for (const std::string& text : options.reverse) {
            std::uint64_t address = vmi::parse_u64(text, "--reverse");
            vmi::SymbolTable::Nearest nearest = symbols.nearest_below(address);
            if (!nearest.symbol) {
                fmt::print(stderr, "vmi-ksym: no symbol at or below {:#x}\n", address);
                status = vmi::EXIT_ERROR;
                continue;
            }
            std::string where = nearest.offset ? fmt::format("{}+{:#x}", nearest.symbol->name, nearest.offset)
                                               : std::string(nearest.symbol->name);
            if (!nearest.symbol->module.empty()) where += fmt::format(" [{}]", nearest.symbol->module);
            nlohmann::json item = symbol_json(*nearest.symbol);
            item["query"] = vmi::hex_address(address);
            item["offset"] = nearest.offset;
            printer.add(item, where);
        }
        for (const std::string& pattern : options.patterns) {
            std::vector<const vmi::Symbol*> matches = symbols.match(pattern);
            if (matches.empty()) {
                fmt::print(stderr, "vmi-ksym: no symbol matches '{}'\n", pattern);
                status = vmi::EXIT_ERROR;
            }
            for (const vmi::Symbol* symbol : matches) {
                std::string line = fmt::format("{:016x} {} {}", symbol->address, symbol->type, symbol->name);
                if (!symbol->module.empty()) line += fmt::format("\t[{}]", symbol->module);
                printer.add(symbol_json(*symbol), line);
            }
        }
    }
    return status;
}

} // namespace

int main(int argc, char** argv)
{
    KsymOptions options;
    return vmi::run_tool(
        "vmi-ksym", "Resolve guest kernel symbols to addresses and back, or list them.", argc, argv,
        [&](CLI::App& app) {
            vmi::add_session_options(app, options.session);
            app.add_option("SYMBOL", options.names, "Symbols to print the address of");
            app.add_option("-r,--reverse", options.reverse, "Address to turn into SYMBOL+0xOFF (repeatable)");
            app.add_option("-l,--list", options.patterns, "List symbols matching a shell glob (repeatable)");
        },
        [&] { return run(options); });
}
