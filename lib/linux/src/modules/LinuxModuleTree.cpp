// The module tree view: mod_tree.root is a latch tree, two red-black trees
// (tree[0], tree[1]) over the same nodes, kept so that lookups never wait. A
// module has a node per memory region (core and init before 6.4, one per
// module_memory type since), a struct mod_tree_node whose first member
// points at the module. Tree 0 is walked; every node's module is seen.
#include <fmt/ranges.h>

#include "vmi/base/Error.hpp"
#include "vmi/linux/KernelListWalk.hpp"
#include "vmi/linux/KernelRbTree.hpp"
#include "vmi/linux/LinuxModuleViews.hpp"

namespace vmi {

ObjectView module_tree_view(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t mod_tree,
                            std::size_t max_modules)
{
    ObjectView view("mod_tree");
    LayoutPart<ModuleTreeOffsets> part = layout.module_tree_offsets();
    if (!part.offsets || !mod_tree) {
        return unavailable_view(view.id, part.offsets ? "no mod_tree symbol" : missing_keys_text(part.missing));
    }
    const ModuleTreeOffsets& o = *part.offsets;
    std::uint64_t node_offset = o.node_node;
    std::uint64_t mod_offset = o.node_mod;
    try {
        std::uint64_t root = kernel.read_pointer(mod_tree + o.trees);
        // Each module has a few regions; 8 nodes each is more than any kernel makes.
        TreeWalkResult result = walk_rb_tree(kernel, root, max_modules * 8, "module tree", [&](std::uint64_t node) {
            // tree[0] links latch_tree_node.node[0], the first member.
            std::uint64_t module = kernel.read_pointer(node - node_offset + mod_offset);
            if (is_kernel_address(kernel, module)) view.objects.insert(module);
            else
                view.problems.push_back(bad_pointer(
                    fmt::format("module tree: node {:#x} points to module {:#x}, not a kernel address", node, module)));
        });
        if (!result.complete()) {
            view.problems.push_back(walk_stopped(result.problem));
            view.complete = false;
        }
    } catch (const Error& e) {
        view.problems.push_back(walk_stopped(fmt::format("module tree: {}", e.what())));
        view.complete = false;
    }
    return view;
}

} // namespace vmi
