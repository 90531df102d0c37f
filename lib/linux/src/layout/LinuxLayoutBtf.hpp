#pragma once
// The BTF side of LinuxLayout: reads one layout value out of kernel BTF.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vmi/linux/LinuxLayout.hpp"

namespace vmi {

struct BtfLayoutValue {
    std::uint64_t value;
    std::string source; // "BTF task_struct.__state"
};

// The value for `spec` from the first of its BTF paths that exists.
std::optional<BtfLayoutValue> btf_layout_value(const KernelBtf& btf, const LayoutFieldSpec& spec);

// Offsets of every size field /proc/modules adds up: mem[i].size for each
// module_memory type (6.4 and later); nullopt on kernels with core_layout.
std::optional<std::vector<std::uint64_t>> btf_module_mem_sizes(const KernelBtf& btf);

} // namespace vmi
