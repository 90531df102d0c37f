#include "vmi/symbols/SymbolTableBuilder.hpp"

#include <algorithm>
#include <limits>
#include <memory>

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

// What a kallsyms line could not carry: its fields are split at whitespace.
bool printable_word(std::string_view text)
{
    return std::ranges::all_of(text, [](char c) {
        auto byte = static_cast<unsigned char>(c);
        return byte > 0x20 && byte != 0x7f;
    });
}

} // namespace

void SymbolTableBuilder::reserve(std::size_t symbols, std::size_t name_bytes)
{
    entries_.reserve(symbols);
    text_.reserve(name_bytes);
}

std::uint32_t SymbolTableBuilder::append(std::string_view text)
{
    if (text_.size() + text.size() > std::numeric_limits<std::uint32_t>::max())
        fail("symbol names add up to more than 4 GiB");
    auto offset = static_cast<std::uint32_t>(text_.size());
    text_.append(text);
    return offset;
}

void SymbolTableBuilder::add(std::uint64_t address, char type, std::string_view name, std::string_view module)
{
    if (name.empty() || name.size() > SymbolTable::MAX_NAME_LENGTH || !printable_word(name))
        fail("symbol {}: a name must be 1 to {} printable characters without spaces", entries_.size(),
             SymbolTable::MAX_NAME_LENGTH);
    if (!printable_word(module) || !printable_word({&type, 1}))
        fail("symbol '{}': type and module must be printable characters without spaces", name);
    Entry entry{
        address, type, 0, static_cast<std::uint32_t>(name.size()), 0, static_cast<std::uint32_t>(module.size())};
    entry.name_offset = append(name);
    entry.module_offset = append(module);
    entries_.push_back(entry);
}

SymbolTable SymbolTableBuilder::build(const std::string& origin)
{
    if (entries_.empty()) fail("'{}' holds no symbols", origin);
    SymbolTable table;
    table.origin_ = origin;
    // On the heap: the names below point into it, and it does not move with the table.
    table.text_ = std::make_unique<std::string>(std::move(text_));
    std::string_view text = *table.text_;
    table.symbols_.reserve(entries_.size());
    for (const Entry& entry : entries_) {
        Symbol symbol;
        symbol.address = entry.address;
        symbol.type = entry.type;
        symbol.name = text.substr(entry.name_offset, entry.name_size);
        symbol.module = text.substr(entry.module_offset, entry.module_size);
        table.symbols_.push_back(symbol);
    }
    text_.clear();
    entries_.clear();
    table.index();
    return table;
}

} // namespace vmi
