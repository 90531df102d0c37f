#include "vmi/linux/KernelRbTree.hpp"

#include <unordered_set>
#include <vector>

#include "vmi/base/Error.hpp"
#include "vmi/linux/KernelListWalk.hpp"

namespace vmi {

TreeWalkResult walk_rb_tree(AddressSpace& kernel, std::uint64_t root_node, std::size_t max_nodes, std::string_view what,
                            const std::function<void(std::uint64_t node)>& visit)
{
    // A balanced tree of 2^22 nodes is 44 deep at most; more means a loop
    // the seen set missed or a tree the guest made up.
    constexpr std::size_t MAX_DEPTH = 128;
    const std::uint64_t word = pointer_size(kernel.mode());
    TreeWalkResult result;
    std::unordered_set<std::uint64_t> seen;
    struct Pending {
        std::uint64_t node;
        std::size_t depth;
    };
    std::vector<Pending> stack;
    if (root_node) stack.push_back({root_node, 0});
    while (!stack.empty()) {
        Pending at = stack.back();
        stack.pop_back();
        if (!is_kernel_address(kernel, at.node)) {
            result.problem = fmt::format("{}: node pointer {:#x} is not a kernel address", what, at.node);
            return result;
        }
        if (!seen.insert(at.node).second) {
            result.problem = fmt::format("{}: node {:#x} reached twice: the tree loops", what, at.node);
            return result;
        }
        if (at.depth > MAX_DEPTH || result.nodes >= max_nodes) {
            result.problem =
                fmt::format("{}: deeper than {} or more than {} nodes; stopped", what, MAX_DEPTH, max_nodes);
            return result;
        }
        std::uint64_t right = 0;
        std::uint64_t left = 0;
        try {
            right = kernel.read_pointer(at.node + word);
            left = kernel.read_pointer(at.node + 2 * word);
        } catch (const Error& e) {
            result.problem = fmt::format("{}: cannot read node {:#x}: {}", what, at.node, e.what());
            return result;
        }
        visit(at.node);
        ++result.nodes;
        if (right) stack.push_back({right, at.depth + 1});
        if (left) stack.push_back({left, at.depth + 1});
    }
    return result;
}

} // namespace vmi
