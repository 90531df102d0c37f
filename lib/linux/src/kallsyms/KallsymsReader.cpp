#include <fmt/format.h>

#include "kallsyms/KallsymsTables.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/linux/Kallsyms.hpp"
#include "vmi/symbols/SymbolTableBuilder.hpp"

namespace vmi {

using kallsyms_detail::KallsymsTables;

const char* to_string(KallsymsEncoding encoding)
{
    switch (encoding) {
    case KallsymsEncoding::Absolute: return "absolute";
    case KallsymsEncoding::Relative: return "relative";
    case KallsymsEncoding::AbsolutePercpu: return "absolute-percpu";
    case KallsymsEncoding::PlaceRelative: return "place-relative";
    }
    return "?";
}

std::string KallsymsLocation::describe() const
{
    // Which order scripts/kallsyms.c wrote the tables in (see Kallsyms.hpp).
    const char* order = addresses_pa < num_syms_pa            ? "6.1-6.3 order"
                        : relative_base_pa                    ? "6.4-6.x order"
                        : alignment == 4 && address_size == 4 ? "7.x order"
                                                              : "6.4-6.x order";
    std::string text = fmt::format("kallsyms at {:#x}: {} symbols, {}, {}-bit, {} addresses", token_table_pa, count,
                                   order, pointer_size * 8, to_string(encoding));
    if (relative_base_pa) text += fmt::format(" (base {:#x})", relative_base);
    if (image_va_minus_pa)
        text += fmt::format(", kernel image VA = PA + {:#x}{}", *image_va_minus_pa,
                            inside_image ? "" : " (the tables lie outside it)");
    if (!seqs_of_names_pa) text += ", no seqs_of_names";
    return text + fmt::format(", fingerprint {:016x}", fingerprint);
}

KallsymsReader::KallsymsReader(MemorySource& memory, const KallsymsLocation& location)
    : tables_(std::make_unique<KallsymsTables>(memory, location))
{}

KallsymsReader::~KallsymsReader() = default;
KallsymsReader::KallsymsReader(KallsymsReader&&) noexcept = default;
KallsymsReader& KallsymsReader::operator=(KallsymsReader&&) noexcept = default;

const KallsymsLocation& KallsymsReader::location() const { return tables_->location(); }
std::uint32_t KallsymsReader::size() const { return tables_->count(); }

KallsymsSymbol KallsymsReader::symbol(std::uint32_t index) const
{
    if (index >= size()) fail("kallsyms: symbol index {} out of range ({} symbols)", index, size());
    return {tables_->address(index), tables_->type(index), index};
}

std::string KallsymsReader::name(std::uint32_t index) const
{
    if (index >= size()) fail("kallsyms: symbol index {} out of range ({} symbols)", index, size());
    std::string text;
    tables_->expanded(index, text);
    return text.substr(1);
}

std::optional<KallsymsSymbol> KallsymsReader::lookup(std::string_view name) const
{
    return lookup(std::span<const std::string_view>(&name, 1)).front();
}

std::vector<std::optional<KallsymsSymbol>> KallsymsReader::lookup(std::span<const std::string_view> names) const
{
    std::vector<std::optional<std::uint32_t>> indices(names.size());
    std::vector<std::string_view> missed;
    std::vector<std::size_t> missed_at;
    for (std::size_t i = 0; i < names.size(); ++i) {
        indices[i] = tables_->search_by_name(names[i]);
        if (!indices[i]) {
            missed.push_back(names[i]);
            missed_at.push_back(i);
        }
    }
    if (!missed.empty()) {
        std::vector<std::optional<std::uint32_t>> scanned = tables_->scan_by_name(missed);
        for (std::size_t j = 0; j < missed.size(); ++j) indices[missed_at[j]] = scanned[j];
    }
    std::vector<std::optional<KallsymsSymbol>> found(names.size());
    for (std::size_t i = 0; i < names.size(); ++i)
        if (indices[i]) found[i] = symbol(*indices[i]);
    return found;
}

SymbolTable KallsymsReader::table(const std::string& origin) const
{
    SymbolTableBuilder builder;
    builder.reserve(size(), tables_->location().names_size * 3);
    std::string text;
    std::size_t offset = 0;
    for (std::uint32_t index = 0; index < size(); ++index) {
        kallsyms_detail::NameRecord record = tables_->record(offset);
        offset = record.next;
        text.clear();
        kallsyms_detail::expand(tables_->tokens(), tables_->codes(record), text);
        builder.add(tables_->address(index), text.front(), std::string_view(text).substr(1));
    }
    return builder.build(origin);
}

SymbolTable decode_kallsyms(MemorySource& memory, const KallsymsLocation& location, const std::string& origin)
{
    return KallsymsReader(memory, location).table(origin);
}

std::optional<KallsymsSymbol> kallsyms_lookup(MemorySource& memory, const KallsymsLocation& location,
                                              std::string_view name)
{
    return KallsymsReader(memory, location).lookup(name);
}

std::vector<std::optional<KallsymsSymbol>> kallsyms_lookup(MemorySource& memory, const KallsymsLocation& location,
                                                           std::span<const std::string_view> names)
{
    return KallsymsReader(memory, location).lookup(names);
}

} // namespace vmi
