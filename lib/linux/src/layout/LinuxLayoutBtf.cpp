#include "layout/LinuxLayoutBtf.hpp"
#include <fmt/format.h>

#include "vmi/base/Error.hpp"
#include "vmi/types/KernelBtf.hpp"

namespace vmi {

std::optional<BtfLayoutValue> btf_layout_value(const KernelBtf& btf, const LayoutFieldSpec& spec)
{
    if (spec.kind == "size") {
        std::optional<std::uint64_t> size = btf.struct_size(spec.btf_struct);
        if (size) return BtfLayoutValue{*size, fmt::format("BTF sizeof(struct {})", spec.btf_struct)};
        return std::nullopt;
    }
    for (std::string_view path : spec.btf_paths) {
        if (spec.kind == "enum") {
            std::optional<std::int64_t> value = btf.enum_value(path);
            if (value && *value >= 0)
                return BtfLayoutValue{static_cast<std::uint64_t>(*value), fmt::format("BTF {}", path)};
            continue;
        }
        std::optional<std::uint64_t> value =
            spec.kind == "length" ? btf.array_length(spec.btf_struct, path) : btf.member_offset(spec.btf_struct, path);
        if (value) return BtfLayoutValue{*value, fmt::format("BTF {}.{}", spec.btf_struct, path)};
    }
    return std::nullopt;
}

std::optional<std::vector<std::uint64_t>> btf_module_mem_sizes(const KernelBtf& btf)
{
    std::optional<std::uint64_t> mem = btf.member_offset("module", "mem");
    std::optional<std::uint64_t> count = btf.array_length("module", "mem");
    std::optional<std::uint64_t> stride = btf.struct_size("module_memory");
    std::optional<std::uint64_t> size = btf.member_offset("module_memory", "size");
    if (!mem || !count || !stride || !size) return std::nullopt;
    // MOD_MEM_NUM_TYPES is 7; a hostile BTF can claim 4 billion, one offset each.
    constexpr std::uint64_t MAX_MODULE_MEMORY_TYPES = 64;
    if (*count > MAX_MODULE_MEMORY_TYPES)
        fail("'{}': BTF gives module.mem {} elements (a kernel has 7): corrupt", btf.origin(), *count);
    std::vector<std::uint64_t> offsets;
    for (std::uint64_t i = 0; i < *count; ++i) offsets.push_back(*mem + i * *stride + *size);
    return offsets;
}

} // namespace vmi
