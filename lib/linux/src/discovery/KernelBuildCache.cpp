#include "discovery/KernelBuildCache.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "kallsyms/KallsymsFormat.hpp"
#include "vmi/base/AtomicFileWrite.hpp"
#include "vmi/base/CacheDirectory.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/Fnv1a.hpp"
#include "vmi/base/NumberParser.hpp"
#include "vmi/base/UnalignedLoad.hpp"

namespace vmi {
namespace {

using namespace kallsyms_detail;

constexpr std::string_view MAGIC = "vmitools-kernel-build 1";
constexpr std::uintmax_t MAX_ENTRY_BYTES = 64 << 10;
constexpr std::size_t MAX_ENTRIES_READ = 64;
constexpr std::size_t MAX_CACHED_SYMBOLS = 64;

// The cache writes every number as {:#x}: anything else is not ours.
std::optional<std::uint64_t> parse_hex(std::string_view word)
{
    if (!word.starts_with("0x")) return std::nullopt;
    return try_parse_u64(word).value;
}

std::string optional_hex(const std::optional<std::uint64_t>& value)
{
    return value ? fmt::format("{:#x}", *value) : std::string("-");
}

// The location as "location FIELD VALUE" lines, in a fixed order.
std::string serialize_location(const KallsymsLocation& l)
{
    std::string text;
    auto field = [&text](std::string_view name, const std::string& value) {
        text += fmt::format("location {} {}\n", name, value);
    };
    auto hex = [](std::uint64_t value) { return fmt::format("{:#x}", value); };
    field("pointer_size", hex(l.pointer_size));
    field("alignment", hex(l.alignment));
    field("count", hex(l.count));
    field("num_syms_pa", hex(l.num_syms_pa));
    field("names_pa", hex(l.names_pa));
    field("names_size", hex(l.names_size));
    field("markers_pa", hex(l.markers_pa));
    field("token_table_pa", hex(l.token_table_pa));
    field("token_table_size", hex(l.token_table_size));
    field("token_index_pa", hex(l.token_index_pa));
    field("encoding", hex(static_cast<unsigned>(l.encoding)));
    field("addresses_pa", hex(l.addresses_pa));
    field("address_size", hex(l.address_size));
    field("relative_base_pa", optional_hex(l.relative_base_pa));
    field("relative_base", hex(l.relative_base));
    field("seqs_of_names_pa", optional_hex(l.seqs_of_names_pa));
    field("image_va_minus_pa", optional_hex(l.image_va_minus_pa));
    field("inside_image", hex(l.inside_image ? 1 : 0));
    field("fingerprint", hex(l.fingerprint));
    return text;
}

// One "location" line into `l`; false when it is not one we wrote.
bool parse_location_field(KallsymsLocation& l, std::string_view name, std::string_view value)
{
    std::optional<std::uint64_t> number = parse_hex(value);
    bool none = value == "-";
    if (!number && !none) return false;
    auto set_optional = [&](std::optional<std::uint64_t>& field) { field = none ? std::nullopt : number; };
    if (none && name != "relative_base_pa" && name != "seqs_of_names_pa" && name != "image_va_minus_pa") return false;
    if (name == "pointer_size") l.pointer_size = static_cast<unsigned>(*number);
    else if (name == "alignment") l.alignment = static_cast<unsigned>(*number);
    else if (name == "count") l.count = static_cast<std::uint32_t>(*number);
    else if (name == "num_syms_pa") l.num_syms_pa = *number;
    else if (name == "names_pa") l.names_pa = *number;
    else if (name == "names_size") l.names_size = *number;
    else if (name == "markers_pa") l.markers_pa = *number;
    else if (name == "token_table_pa") l.token_table_pa = *number;
    else if (name == "token_table_size") l.token_table_size = static_cast<std::uint32_t>(*number);
    else if (name == "token_index_pa") l.token_index_pa = *number;
    else if (name == "encoding") {
        if (*number > static_cast<unsigned>(KallsymsEncoding::PlaceRelative)) return false;
        l.encoding = static_cast<KallsymsEncoding>(*number);
    } else if (name == "addresses_pa") l.addresses_pa = *number;
    else if (name == "address_size") l.address_size = static_cast<unsigned>(*number);
    else if (name == "relative_base_pa") set_optional(l.relative_base_pa);
    else if (name == "relative_base") l.relative_base = *number;
    else if (name == "seqs_of_names_pa") set_optional(l.seqs_of_names_pa);
    else if (name == "image_va_minus_pa") set_optional(l.image_va_minus_pa);
    else if (name == "inside_image") l.inside_image = *number != 0;
    else if (name == "fingerprint") l.fingerprint = *number;
    else return false;
    return true;
}

std::optional<CachedKernelBuild> parse_entry(std::string_view text, const std::string& path)
{
    if (!text.starts_with(MAGIC) || text.size() <= MAGIC.size() || text[MAGIC.size()] != '\n') return std::nullopt;
    text.remove_prefix(MAGIC.size() + 1);
    CachedKernelBuild entry;
    entry.path = path;
    std::size_t fields = 0;
    bool ended = false;
    while (!text.empty()) {
        std::size_t end = text.find('\n');
        if (end == std::string_view::npos) return std::nullopt;
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end + 1);
        if (line == "end") {
            ended = true;
            break;
        }
        std::size_t a = line.find(' ');
        std::size_t b = a == std::string_view::npos ? a : line.find(' ', a + 1);
        std::string_view kind = line.substr(0, a);
        if (kind == "location" && b != std::string_view::npos) {
            if (!parse_location_field(entry.location, line.substr(a + 1, b - a - 1), line.substr(b + 1)))
                return std::nullopt;
            ++fields;
        } else if (kind == "symbol" && b != std::string_view::npos) {
            std::optional<CachedSymbol> symbol = parse_cached_symbol(line.substr(a + 1));
            if (!symbol || entry.symbols.size() >= MAX_CACHED_SYMBOLS) return std::nullopt;
            entry.symbols.push_back(std::move(*symbol));
        } else if (kind == "layout" && a != std::string_view::npos) {
            entry.layout += std::string(line.substr(a + 1)) + "\n";
        } else if (kind == "banner") {
            continue; // for people reading the cache
        } else {
            return std::nullopt;
        }
    }
    if (!ended || fields != 19 || entry.symbols.empty()) return std::nullopt;
    return entry;
}

// Does `memory` hold these tables where the entry says? The count, the token
// table and index (their fingerprint), and the relative base: a KASLR boot of
// the same build elsewhere is a miss (and gets its own scan).
bool holds_tables(MemorySource& memory, const KallsymsLocation& l)
{
    if (l.token_table_size == 0 || l.token_table_size > MAX_TOKEN_TABLE || l.count == 0 ||
        l.count > kallsyms_detail::MAX_SYMBOLS)
        return false;
    if (!memory.is_ram(l.num_syms_pa, 4) || !memory.is_ram(l.token_table_pa, l.token_table_size) ||
        !memory.is_ram(l.token_index_pa, TOKEN_INDEX_BYTES))
        return false;
    std::uint8_t count_bytes[4];
    memory.read(l.num_syms_pa, count_bytes);
    if (load_unaligned<std::uint32_t>(count_bytes) != l.count) return false;
    std::vector<std::uint8_t> table(l.token_table_size), index(TOKEN_INDEX_BYTES);
    memory.read(l.token_table_pa, table);
    memory.read(l.token_index_pa, index);
    std::optional<TokenTable> tokens = TokenTable::parse(table, index);
    if (!tokens || fingerprint(l.count, *tokens) != l.fingerprint) return false;
    if (l.relative_base_pa) {
        if (!memory.is_ram(*l.relative_base_pa, l.pointer_size)) return false;
        std::uint8_t base[8] = {};
        memory.read(*l.relative_base_pa, {base, l.pointer_size});
        if (load_guest_word(base, l.pointer_size) != l.relative_base) return false;
    }
    return true;
}

} // namespace

std::string cached_symbol_line(const CachedSymbol& symbol)
{
    return fmt::format("symbol {} {:#x} {}\n", symbol.name, symbol.address, symbol.type);
}

std::optional<CachedSymbol> parse_cached_symbol(std::string_view words)
{
    std::size_t a = words.find(' ');
    std::size_t b = a == std::string_view::npos ? a : words.find(' ', a + 1);
    if (b == std::string_view::npos || b + 2 != words.size()) return std::nullopt;
    std::optional<std::uint64_t> address = parse_hex(words.substr(a + 1, b - a - 1));
    std::string_view name = words.substr(0, a);
    if (!address || name.empty() || name.size() > SymbolTable::MAX_NAME_LENGTH) return std::nullopt;
    return CachedSymbol{std::string(name), *address, words.back()};
}

std::string prefixed_lines(std::string_view prefix, std::string_view text)
{
    std::string lines;
    while (!text.empty()) {
        std::size_t end = text.find('\n');
        lines += fmt::format("{} {}\n", prefix, text.substr(0, end));
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return lines;
}

std::string kernel_build_cache_directory() { return cache_directory("kernels", "VMI_KERNEL_CACHE"); }

std::optional<CachedKernelBuild> find_cached_kernel_build(MemorySource& memory)
{
    std::string dir = kernel_build_cache_directory();
    std::error_code error;
    if (dir.empty() || !std::filesystem::is_directory(dir, error)) return std::nullopt;
    std::size_t read = 0;
    for (const auto& item : std::filesystem::directory_iterator(dir, error)) {
        const std::filesystem::path& path = item.path();
        if (path.extension() != ".kernel" || !item.is_regular_file(error)) continue;
        if (item.file_size(error) > MAX_ENTRY_BYTES || error || ++read > MAX_ENTRIES_READ) continue;
        std::ifstream in(path, std::ios::binary);
        std::ostringstream text;
        text << in.rdbuf();
        std::optional<CachedKernelBuild> entry = parse_entry(text.str(), path.string());
        try {
            if (entry && holds_tables(memory, entry->location)) return entry;
        } catch (const Error&) {
            // a read that failed: not this entry
        }
    }
    return std::nullopt;
}

std::optional<std::string> store_kernel_build(const CachedKernelBuild& entry, std::string_view banner)
{
    std::string dir = kernel_build_cache_directory();
    if (dir.empty()) return std::nullopt;
    std::string text = std::string(MAGIC) + "\n";
    std::string shown(banner.substr(0, 200));
    for (char& c : shown)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    text += "banner " + shown + "\n";
    text += serialize_location(entry.location);
    for (const CachedSymbol& symbol : entry.symbols) text += cached_symbol_line(symbol);
    text += prefixed_lines("layout", entry.layout);
    text += "end\n";

    std::string path = fmt::format("{}/{:016x}-{:016x}.kernel", dir, entry.location.fingerprint, fnv1a(banner));
    if (!write_file_atomically(path, text)) return std::nullopt;
    return path;
}

} // namespace vmi
