#pragma once
// The x86 paging modes a guest can run in, named as Intel's SDM names them.
#include <cstdint>
#include <optional>
#include <string_view>

namespace vmi {

enum class PagingMode {
    Legacy32, // 32-bit paging: 2 levels, 4 KiB and 4 MiB pages
    PAE,      // 3 levels, 4 KiB and 2 MiB pages
    IA32e,    // 4-level paging: 4 KiB, 2 MiB and 1 GiB pages
    LA57,     // 5-level paging
};

std::string_view name(PagingMode mode);
// Accepts our names (legacy, pae, ia32e, la57) and common synonyms
// (32bit, 4level, 5level, ...). nullopt when unknown.
std::optional<PagingMode> parse_paging_mode(std::string_view text);

// Size in bytes of a pointer / page-table entry, and the width of virtual addresses.
unsigned pointer_size(PagingMode mode);
unsigned virtual_address_bits(PagingMode mode);
bool is_64bit(PagingMode mode);

} // namespace vmi
