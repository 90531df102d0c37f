#pragma once
// Visits every node of a Linux red-black tree (struct rb_node: the parent
// pointer with the colour in its low bits, then rb_right, then rb_left),
// distrusting the guest as the list walk does: every pointer must be a kernel
// address, no node may be seen twice, the depth and the node count are capped.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "vmi/paging/AddressSpace.hpp"

namespace vmi {

struct TreeWalkResult {
    std::size_t nodes = 0;
    std::string problem; // why the walk stopped early; empty when every node was visited
    bool complete() const { return problem.empty(); }
};

// Calls `visit(node)` with the address of each rb_node below `root_node` (the
// rb_root's rb_node pointer; 0 for an empty tree), each once. `what` names the
// tree in problems.
TreeWalkResult walk_rb_tree(AddressSpace& kernel, std::uint64_t root_node, std::size_t max_nodes, std::string_view what,
                            const std::function<void(std::uint64_t node)>& visit);

} // namespace vmi
