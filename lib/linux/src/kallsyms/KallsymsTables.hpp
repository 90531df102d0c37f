#pragma once
// One location's kallsyms tables, read out of guest memory into local buffers
// and validated, with the primitives the reader and the finder decode with.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kallsyms/KallsymsFormat.hpp"
#include "vmi/linux/Kallsyms.hpp"
#include "vmi/memory/MemorySource.hpp"

namespace vmi::kallsyms_detail {

class KallsymsTables {
public:
    // Reads every table `location` names (a few MiB) and checks them again:
    // tokens, every name against the markers, the address encoding's rules,
    // seqs_of_names a permutation. vmi::Error when one fails.
    KallsymsTables(MemorySource& memory, const KallsymsLocation& location);

    const KallsymsLocation& location() const { return location_; }
    std::uint32_t count() const { return location_.count; }
    const TokenTable& tokens() const { return tokens_; }
    const AddressDecoder& addresses() const { return decoder_; }
    bool has_seqs() const { return !seqs_.empty(); }

    // Offset of name `index` in kallsyms_names: its marker, then at most
    // 255 records on.
    std::size_t name_offset(std::uint32_t index) const;
    NameRecord record(std::size_t offset) const;
    std::span<const std::uint8_t> codes(const NameRecord& record) const;
    char type(std::uint32_t index) const;
    // Name `index` expanded into `out` (replaced), type letter first.
    void expanded(std::uint32_t index, std::string& out) const;
    // Needs the image's virtual address for PlaceRelative tables (vmi::Error without).
    std::uint64_t address(std::uint32_t index) const;
    // Places the tables' kernel image (KallsymsLocation::image_va_minus_pa).
    void set_image_va_minus_pa(std::uint64_t offset);

    // The symbol of that exact name with the lowest index, by binary search
    // over seqs_of_names; nullopt when that search misses (see lookup_all).
    std::optional<std::uint32_t> search_by_name(std::string_view name) const;
    // For each name, the lowest index with that name, by one pass over all names.
    std::vector<std::optional<std::uint32_t>> scan_by_name(const std::vector<std::string_view>& names) const;

private:
    KallsymsLocation location_;
    TokenTable tokens_;
    std::vector<std::uint8_t> names_;
    std::vector<std::uint8_t> markers_;
    std::vector<std::uint8_t> address_bytes_;
    std::vector<std::uint8_t> seqs_;
    AddressDecoder decoder_;
};

} // namespace vmi::kallsyms_detail
