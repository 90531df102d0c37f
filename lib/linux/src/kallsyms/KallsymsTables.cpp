#include "kallsyms/KallsymsTables.hpp"

#include <algorithm>
#include <unordered_map>

#include "vmi/base/Error.hpp"
#include "vmi/base/UnalignedLoad.hpp"

namespace vmi::kallsyms_detail {
namespace {

std::vector<std::uint8_t> read_table(MemorySource& memory, std::uint64_t pa, std::uint64_t size, const char* what)
{
    if (!memory.is_ram(pa, size)) fail("kallsyms: {} at {:#x} ({} bytes) is not in guest RAM", what, pa, size);
    std::vector<std::uint8_t> bytes(size);
    memory.read(pa, bytes);
    return bytes;
}

} // namespace

KallsymsTables::KallsymsTables(MemorySource& memory, const KallsymsLocation& location)
    : location_(location), decoder_(KallsymsEncoding::Relative, 4, 8, 0, {})
{
    const KallsymsLocation& loc = location_;
    if (loc.count == 0 || loc.count > MAX_SYMBOLS) fail("kallsyms: implausible symbol count {}", loc.count);
    if (loc.names_size > std::uint64_t{loc.count} * (2 + MAX_NAME_CODES))
        fail("kallsyms: names table of {} bytes for {} symbols", loc.names_size, loc.count);
    if (loc.token_table_size == 0 || loc.token_table_size > MAX_TOKEN_TABLE)
        fail("kallsyms: token table of {} bytes", loc.token_table_size);
    if ((loc.address_size != 4 && loc.address_size != 8) || (loc.pointer_size != 4 && loc.pointer_size != 8))
        fail("kallsyms: address entries of {} bytes, pointers of {}", loc.address_size, loc.pointer_size);

    std::vector<std::uint8_t> table = read_table(memory, loc.token_table_pa, loc.token_table_size, "token table");
    std::vector<std::uint8_t> index = read_table(memory, loc.token_index_pa, TOKEN_INDEX_BYTES, "token index");
    std::optional<TokenTable> tokens = TokenTable::parse(table, index);
    if (!tokens || tokens->size() != loc.token_table_size)
        fail("kallsyms: the token table at {:#x} is not valid", loc.token_table_pa);
    tokens_ = std::move(*tokens);

    names_ = read_table(memory, loc.names_pa, loc.names_size, "names");
    markers_ = read_table(memory, loc.markers_pa, 4 * std::uint64_t{markers_for(loc.count)}, "markers");
    std::optional<std::size_t> end = walk_names(names_, loc.count, markers_, tokens_);
    if (!end || *end != names_.size()) fail("kallsyms: the names at {:#x} do not match their markers", loc.names_pa);

    address_bytes_ = read_table(memory, loc.addresses_pa, std::uint64_t{loc.address_size} * loc.count, "address table");
    std::uint64_t relative_base = loc.relative_base;
    if (loc.relative_base_pa) {
        std::vector<std::uint8_t> base = read_table(memory, *loc.relative_base_pa, loc.pointer_size, "relative base");
        relative_base = load_guest_word(base.data(), loc.pointer_size);
        if (relative_base != loc.relative_base) fail("kallsyms: the relative base changed");
    }
    decoder_ = AddressDecoder(loc.encoding, loc.address_size, loc.pointer_size, relative_base, address_bytes_);
    if (!decoder_.valid())
        fail("kallsyms: the addresses at {:#x} are not sorted as the kernel sorts them", loc.addresses_pa);
    if (loc.image_va_minus_pa) set_image_va_minus_pa(*loc.image_va_minus_pa);

    if (loc.seqs_of_names_pa) {
        seqs_ = read_table(memory, *loc.seqs_of_names_pa, SEQ_BYTES * std::uint64_t{loc.count}, "seqs_of_names");
        if (!seqs_valid(seqs_, loc.count)) fail("kallsyms: seqs_of_names is not a permutation");
    }
}

NameRecord KallsymsTables::record(std::size_t offset) const
{
    std::optional<NameRecord> found = read_name(names_, offset);
    if (!found) fail("kallsyms: no name record at offset {}", offset); // walked once already: cannot happen
    return *found;
}

std::span<const std::uint8_t> KallsymsTables::codes(const NameRecord& record) const
{
    return std::span<const std::uint8_t>(names_).subspan(record.codes, record.length);
}

std::size_t KallsymsTables::name_offset(std::uint32_t index) const
{
    std::size_t offset = load_unaligned<std::uint32_t>(markers_.data() + 4 * std::size_t{index >> 8});
    for (std::uint32_t i = index & ~0xffU; i < index; ++i) offset = record(offset).next;
    return offset;
}

char KallsymsTables::type(std::uint32_t index) const
{
    return tokens_.token(codes(record(name_offset(index))).front()).front();
}

void KallsymsTables::expanded(std::uint32_t index, std::string& out) const
{
    out.clear();
    expand(tokens_, codes(record(name_offset(index))), out);
}

std::uint64_t KallsymsTables::address(std::uint32_t index) const
{
    if (location_.encoding == KallsymsEncoding::PlaceRelative && !location_.image_va_minus_pa)
        fail("kallsyms: the tables hold addresses relative to themselves, and the kernel image's virtual address "
             "was not found");
    return decoder_.address(index);
}

void KallsymsTables::set_image_va_minus_pa(std::uint64_t offset)
{
    location_.image_va_minus_pa = offset;
    if (location_.encoding == KallsymsEncoding::PlaceRelative) decoder_.set_table_va(location_.addresses_pa + offset);
}

std::optional<std::uint32_t> KallsymsTables::search_by_name(std::string_view name) const
{
    if (seqs_.empty()) return std::nullopt;
    // seqs_of_names lists the indices in name order (strcmp, then address):
    // the first position whose name is not below `name`.
    std::string buffer;
    auto name_at = [&](std::uint32_t position) {
        expanded(seq_at(seqs_, position), buffer);
        return std::string_view(buffer).substr(1);
    };
    std::uint32_t low = 0, high = count();
    while (low < high) {
        std::uint32_t mid = low + (high - low) / 2;
        if (name_at(mid) < name) low = mid + 1;
        else high = mid;
    }
    if (low == count() || name_at(low) != name) return std::nullopt;
    // Equal names follow in address order; a guest that reordered them only
    // makes this the wrong one of equals, so take the lowest index among them.
    std::uint32_t best = seq_at(seqs_, low);
    for (std::uint32_t position = low + 1; position < count() && name_at(position) == name; ++position)
        best = std::min(best, seq_at(seqs_, position));
    return best;
}

std::vector<std::optional<std::uint32_t>> KallsymsTables::scan_by_name(const std::vector<std::string_view>& names) const
{
    std::vector<std::optional<std::uint32_t>> found(names.size());
    std::unordered_map<std::string_view, std::vector<std::size_t>> wanted;
    for (std::size_t i = 0; i < names.size(); ++i) wanted[names[i]].push_back(i);
    std::string buffer;
    std::size_t offset = 0;
    for (std::uint32_t index = 0; index < count() && !wanted.empty(); ++index) {
        NameRecord name = record(offset);
        offset = name.next;
        buffer.clear();
        expand(tokens_, codes(name), buffer);
        auto it = wanted.find(std::string_view(buffer).substr(1));
        if (it == wanted.end()) continue;
        for (std::size_t i : it->second) found[i] = index;
        wanted.erase(it);
    }
    return found;
}

} // namespace vmi::kallsyms_detail
