#include "vmi/symbols/SymbolTable.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fnmatch.h>

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

constexpr std::size_t MAX_FILE_SIZE = std::size_t{1} << 30;

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
    SymbolTable table;
    table.origin_ = path;
    table.file_ = std::make_unique<MappedFile>(path, false, "symbol file");
    if (table.file_->size() > MAX_FILE_SIZE) fail("symbol file '{}' is larger than {} MiB", path, MAX_FILE_SIZE >> 20);
    auto bytes = table.file_->bytes();
    table.parse_lines({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
    return table;
}

SymbolTable SymbolTable::parse(std::string text, const std::string& origin)
{
    SymbolTable table;
    table.origin_ = origin;
    table.text_ = std::make_unique<std::string>(std::move(text));
    table.parse_lines(*table.text_);
    return table;
}

void SymbolTable::parse_lines(std::string_view text)
{
    const std::string& origin = origin_;
    // Debian's linux-image packages ship a one-line placeholder System.map.
    if (text.size() < 4096 && text.find("The real System.map is in") != std::string_view::npos)
        fail("'{}' is Debian's placeholder System.map; the real one is in the linux-image-<release>-dbg package "
             "(/usr/lib/debug/boot/System.map-<release>), or use a copy of the guest's /proc/kallsyms",
             origin);
    symbols_.reserve(text.size() / 24); // lines are longer than that: no regrowth
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
        if (name.size() > MAX_NAME_LENGTH)
            fail("{}:{}: symbol name longer than {} bytes", origin, line_number, MAX_NAME_LENGTH);
        if (module.size() >= 2 && module.front() == '[' && module.back() == ']')
            module = module.substr(1, module.size() - 2);
        symbol.type = type[0];
        symbol.name = name;
        symbol.module = module;
        any_nonzero |= symbol.address != 0;
        symbols_.push_back(symbol);
    }
    if (symbols_.empty()) fail("'{}' holds no symbols", origin);
    if (!any_nonzero)
        fail("every address in '{}' is zero: /proc/kallsyms was read without privilege (read it as root, "
             "or set kernel.kptr_restrict=0)",
             origin);
    index();
}

void SymbolTable::index()
{
    if (symbols_.size() >= EMPTY_SLOT / 2) fail("'{}' has too many symbols", origin_);
    std::size_t slots = 16;
    while (slots < 2 * symbols_.size()) slots *= 2;
    by_name_.assign(slots, EMPTY_SLOT);
    std::hash<std::string_view> hash;
    // Kernel image symbols win over module symbols of the same name; among
    // equals the first in the file wins.
    for (int pass = 0; pass < 2; ++pass) {
        for (std::uint32_t i = 0; i < symbols_.size(); ++i) {
            if (symbols_[i].module.empty() != (pass == 0)) continue;
            std::size_t slot = hash(symbols_[i].name) & (slots - 1);
            while (by_name_[slot] != EMPTY_SLOT && symbols_[by_name_[slot]].name != symbols_[i].name)
                slot = (slot + 1) & (slots - 1);
            if (by_name_[slot] == EMPTY_SLOT) by_name_[slot] = i;
        }
    }

    by_address_.clear();
    by_address_ready_ = false;
}

const std::vector<std::uint32_t>& SymbolTable::address_order() const
{
    if (by_address_ready_) return by_address_;
    by_address_.clear();
    for (std::uint32_t i = 0; i < symbols_.size(); ++i)
        if (!is_absolute(symbols_[i])) by_address_.push_back(i);
    auto by_address = [this](std::uint32_t a, std::uint32_t b) { return symbols_[a].address < symbols_[b].address; };
    // System.map and kallsyms are (almost) in address order already.
    if (!std::is_sorted(by_address_.begin(), by_address_.end(), by_address))
        std::stable_sort(by_address_.begin(), by_address_.end(), by_address);
    by_address_ready_ = true;
    return by_address_;
}

const Symbol* SymbolTable::find(std::string_view name) const
{
    if (by_name_.empty()) return nullptr;
    std::size_t mask = by_name_.size() - 1;
    for (std::size_t slot = std::hash<std::string_view>()(name) & mask; by_name_[slot] != EMPTY_SLOT;
         slot = (slot + 1) & mask)
        if (symbols_[by_name_[slot]].name == name) return &symbols_[by_name_[slot]];
    return nullptr;
}

const Symbol& SymbolTable::require(std::string_view name) const
{
    const Symbol* symbol = find(name);
    if (!symbol) fail("symbol '{}' not found in '{}'", name, origin_);
    return *symbol;
}

SymbolTable::Nearest SymbolTable::nearest_below(std::uint64_t address) const
{
    const std::vector<std::uint32_t>& order = address_order();
    auto it = std::upper_bound(order.begin(), order.end(), address,
                               [this](std::uint64_t a, std::uint32_t i) { return a < symbols_[i].address; });
    if (it == order.begin()) return {};
    const Symbol& symbol = symbols_[*(it - 1)];
    return {&symbol, address - symbol.address};
}

std::vector<const Symbol*> SymbolTable::at(std::uint64_t address) const
{
    const std::vector<std::uint32_t>& order = address_order();
    auto first = std::lower_bound(order.begin(), order.end(), address,
                                  [this](std::uint32_t i, std::uint64_t a) { return symbols_[i].address < a; });
    std::vector<const Symbol*> found;
    for (auto it = first; it != order.end() && symbols_[*it].address == address; ++it) found.push_back(&symbols_[*it]);
    return found;
}

const Symbol* SymbolTable::next_above(std::uint64_t address) const
{
    const std::vector<std::uint32_t>& order = address_order();
    auto it = std::upper_bound(order.begin(), order.end(), address,
                               [this](std::uint64_t a, std::uint32_t i) { return a < symbols_[i].address; });
    return it == order.end() ? nullptr : &symbols_[*it];
}

std::vector<const Symbol*> SymbolTable::match(std::string_view glob) const
{
    std::string pattern(glob);
    std::string name;
    auto matches_glob = [&](const Symbol& symbol) {
        name.assign(symbol.name); // fnmatch wants NUL-terminated names
        return ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
    };
    std::vector<const Symbol*> matches;
    for (std::uint32_t i : address_order())
        if (matches_glob(symbols_[i])) matches.push_back(&symbols_[i]);
    for (const Symbol& symbol : symbols_) // absolute symbols are not in by_address_
        if (is_absolute(symbol) && matches_glob(symbol)) matches.push_back(&symbol);
    return matches;
}

void SymbolTable::relocate(std::int64_t slide)
{
    for (Symbol& symbol : symbols_)
        if (!is_absolute(symbol)) symbol.address += static_cast<std::uint64_t>(slide);
    by_address_ready_ = false; // a slide that wraps around changes the order
}

} // namespace vmi
