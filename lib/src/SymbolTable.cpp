#include "vmi/SymbolTable.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fnmatch.h>
#include <fstream>
#include <sstream>

#include "vmi/Error.hpp"

namespace vmi {
namespace {

constexpr std::size_t MAX_NAME_LENGTH = 512; // KSYM_NAME_LEN is 512 since 6.1

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view next_field(std::string_view& line)
{
    std::size_t start = 0;
    while (start < line.size() && is_space(line[start])) ++start;
    std::size_t end = start;
    while (end < line.size() && !is_space(line[end])) ++end;
    std::string_view field = line.substr(start, end - start);
    line.remove_prefix(end);
    return field;
}

bool is_absolute(const Symbol& symbol) { return symbol.type == 'a' || symbol.type == 'A'; }

} // namespace

SymbolTable SymbolTable::load(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot open symbol file '{}': {}", path, std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return parse(text.str(), path);
}

SymbolTable SymbolTable::parse(std::string_view text, const std::string& origin)
{
    // Debian's linux-image packages ship a one-line placeholder System.map.
    if (text.find("The real System.map is in") != std::string_view::npos && text.size() < 4096)
        fail("'{}' is Debian's placeholder System.map; the real one is in the linux-image-<release>-dbg package "
             "(/usr/lib/debug/boot/System.map-<release>), or use a copy of the guest's /proc/kallsyms",
             origin);

    SymbolTable table;
    table.origin_ = origin;
    table.symbols_.reserve(text.size() / 40);
    std::size_t line_number = 0;
    bool any_nonzero = false;
    while (!text.empty()) {
        std::size_t eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
        ++line_number;

        std::string_view address = next_field(line);
        if (address.empty()) continue; // blank line
        std::string_view type = next_field(line);
        std::string_view name = next_field(line);
        std::string_view module = next_field(line);
        Symbol symbol;
        auto [end, ec] = std::from_chars(address.data(), address.data() + address.size(), symbol.address, 16);
        if (ec != std::errc() || end != address.data() + address.size() || type.size() != 1 || name.empty())
            fail("{}:{}: not a System.map or kallsyms line (expected 'ADDRESS TYPE NAME')", origin, line_number);
        if (name.size() > MAX_NAME_LENGTH) fail("{}:{}: symbol name longer than {} bytes", origin, line_number, MAX_NAME_LENGTH);
        if (module.size() >= 2 && module.front() == '[' && module.back() == ']') module = module.substr(1, module.size() - 2);
        symbol.type = type[0];
        symbol.name = std::string(name);
        symbol.module = std::string(module);
        any_nonzero |= symbol.address != 0;
        table.symbols_.push_back(std::move(symbol));
    }
    if (table.symbols_.empty()) fail("'{}' holds no symbols", origin);
    if (!any_nonzero)
        fail("every address in '{}' is zero: /proc/kallsyms was read without privilege (read it as root, "
             "or set kernel.kptr_restrict=0)",
             origin);
    table.index();
    return table;
}

void SymbolTable::index()
{
    by_name_.clear();
    by_name_.reserve(symbols_.size());
    // Kernel image symbols win over module symbols of the same name.
    for (int pass = 0; pass < 2; ++pass)
        for (std::size_t i = 0; i < symbols_.size(); ++i)
            if (symbols_[i].module.empty() == (pass == 0)) by_name_.emplace(symbols_[i].name, i);

    by_address_.clear();
    for (std::size_t i = 0; i < symbols_.size(); ++i)
        if (!is_absolute(symbols_[i])) by_address_.push_back(i);
    std::stable_sort(by_address_.begin(), by_address_.end(),
                     [this](std::size_t a, std::size_t b) { return symbols_[a].address < symbols_[b].address; });
}

const Symbol* SymbolTable::find(std::string_view name) const
{
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &symbols_[it->second];
}

const Symbol& SymbolTable::require(std::string_view name) const
{
    const Symbol* symbol = find(name);
    if (!symbol) fail("symbol '{}' not found in '{}'", name, origin_);
    return *symbol;
}

SymbolTable::Nearest SymbolTable::nearest_below(std::uint64_t address) const
{
    auto it = std::upper_bound(by_address_.begin(), by_address_.end(), address,
                               [this](std::uint64_t a, std::size_t i) { return a < symbols_[i].address; });
    if (it == by_address_.begin()) return {};
    const Symbol& symbol = symbols_[*(it - 1)];
    return {&symbol, address - symbol.address};
}

std::vector<const Symbol*> SymbolTable::match(std::string_view glob) const
{
    std::string pattern(glob);
    std::vector<const Symbol*> matches;
    for (std::size_t i : by_address_)
        if (::fnmatch(pattern.c_str(), symbols_[i].name.c_str(), 0) == 0) matches.push_back(&symbols_[i]);
    for (const Symbol& symbol : symbols_) // absolute symbols are not in by_address_
        if (is_absolute(symbol) && ::fnmatch(pattern.c_str(), symbol.name.c_str(), 0) == 0) matches.push_back(&symbol);
    return matches;
}

void SymbolTable::relocate(std::int64_t slide)
{
    for (Symbol& symbol : symbols_)
        if (!is_absolute(symbol)) symbol.address += static_cast<std::uint64_t>(slide);
}

} // namespace vmi
