#pragma once
// The member paths KernelBtf answers questions about: member names joined by
// '.', each optionally indexed: "tasks", "core_layout.size", "mem[2].size".
#include <cstdint>
#include <string_view>
#include <vector>

namespace vmi {

// One step of a member path: "mem[2]" is name "mem" with index 2.
struct BtfPathStep {
    std::string_view name;
    std::vector<std::uint64_t> indexes;
};

// Throws vmi::Error naming the path for a malformed one.
std::vector<BtfPathStep> parse_btf_member_path(std::string_view path);

} // namespace vmi
