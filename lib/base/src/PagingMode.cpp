#include "vmi/base/PagingMode.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

namespace vmi {

std::string_view name(PagingMode mode)
{
    switch (mode) {
    case PagingMode::Legacy32: return "legacy";
    case PagingMode::PAE: return "pae";
    case PagingMode::IA32e: return "ia32e";
    case PagingMode::LA57: return "la57";
    }
    return "?";
}

std::optional<PagingMode> parse_paging_mode(std::string_view text)
{
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    static const std::array<std::pair<std::string_view, PagingMode>, 11> names{{
        {"legacy", PagingMode::Legacy32},
        {"32bit", PagingMode::Legacy32},
        {"x86", PagingMode::Legacy32},
        {"2level", PagingMode::Legacy32},
        {"pae", PagingMode::PAE},
        {"ia32e", PagingMode::IA32e},
        {"x86_64", PagingMode::IA32e},
        {"4level", PagingMode::IA32e},
        {"64bit", PagingMode::IA32e},
        {"la57", PagingMode::LA57},
        {"5level", PagingMode::LA57},
    }};
    for (auto& [key, mode] : names)
        if (lower == key) return mode;
    return std::nullopt;
}

unsigned pointer_size(PagingMode mode) { return is_64bit(mode) ? 8 : 4; }

unsigned virtual_address_bits(PagingMode mode)
{
    switch (mode) {
    case PagingMode::Legacy32:
    case PagingMode::PAE: return 32;
    case PagingMode::IA32e: return 48;
    case PagingMode::LA57: return 57;
    }
    return 32;
}

bool is_64bit(PagingMode mode) { return mode == PagingMode::IA32e || mode == PagingMode::LA57; }

} // namespace vmi
