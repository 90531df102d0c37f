#include "vmi/linux/KernelListWalk.hpp"

#include <array>
#include <unordered_set>

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

struct Links {
    std::uint64_t next = 0;
    std::uint64_t prev = 0;
};

// A list_head: next, then prev, each a guest pointer. One read.
Links read_links(AddressSpace& kernel, std::uint64_t at)
{
    if (pointer_size(kernel.mode()) == 8) {
        std::array<std::uint64_t, 2> pair{};
        kernel.read(at, {reinterpret_cast<std::uint8_t*>(pair.data()), sizeof pair});
        return {pair[0], pair[1]};
    }
    std::array<std::uint32_t, 2> pair{};
    kernel.read(at, {reinterpret_cast<std::uint8_t*>(pair.data()), sizeof pair});
    return {pair[0], pair[1]};
}

} // namespace

void add_walk_problems(ListWalkResult& result, std::vector<WalkProblem>& problems)
{
    if (!result.complete()) problems.push_back({WalkProblem::Kind::walk_stopped, 0, {}, std::move(result.problem)});
    for (std::string& broken : result.broken_links)
        problems.push_back({WalkProblem::Kind::broken_link, 0, {}, std::move(broken)});
}

KernelAddressBounds kernel_address_bounds(PagingMode mode)
{
    switch (mode) {
    case PagingMode::IA32e: return {0xffff800000000000ULL};
    case PagingMode::LA57: return {0xff00000000000000ULL};
    case PagingMode::Legacy32:
    case PagingMode::PAE:
        // The lowest PAGE_OFFSET any VMSPLIT option allows.
        return {0x40000000ULL, 0xffffffffULL};
    }
    return {1, 0}; // contains nothing
}

bool is_kernel_address(const AddressSpace& kernel, std::uint64_t address)
{
    return kernel_address_bounds(kernel.mode()).contains(address);
}

ListWalkResult walk_kernel_list(AddressSpace& kernel, std::uint64_t head, std::uint64_t link_offset,
                                std::size_t max_entries, std::string_view what,
                                const std::function<std::string(std::uint64_t entry)>& visit,
                                const std::function<std::string(std::uint64_t entry)>& describe)
{
    ListWalkResult result;
    // Names the list_head at `node`, for a problem.
    auto name = [&](std::uint64_t node) {
        return node == head ? std::string("its head") : describe(node - link_offset);
    };
    Links head_links;
    try {
        head_links = read_links(kernel, head);
    } catch (const Error& e) {
        result.problem = fmt::format("{}: cannot read its head at {:#x}: {}", what, head, e.what());
        return result;
    }
    std::unordered_set<std::uint64_t> seen{head};
    std::uint64_t node = head;
    Links links = head_links;
    for (;;) {
        std::uint64_t next = links.next;
        if (next == head) {
            if (head_links.prev != node)
                result.broken_links.push_back(fmt::format("{}: its head's prev is {:#x}, not the last entry {}", what,
                                                          head_links.prev, name(node)));
            return result;
        }
        if (!is_kernel_address(kernel, next) || next < link_offset) {
            result.problem =
                fmt::format("{}: {} has next pointer {:#x}, which is not a kernel address", what, name(node), next);
            return result;
        }
        if (!seen.insert(next).second) {
            result.problem = fmt::format("{}: {} points back to an entry already seen ({:#x}): the list loops", what,
                                         name(node), next - link_offset);
            return result;
        }
        if (result.entries >= max_entries) {
            result.problem = fmt::format("{}: more than {} entries; stopped", what, max_entries);
            return result;
        }
        try {
            links = read_links(kernel, next);
        } catch (const Error& e) {
            result.problem = fmt::format("{}: cannot read entry {:#x}, the one after {}: {}", what, next - link_offset,
                                         name(node), e.what());
            return result;
        }
        if (links.prev != node)
            result.broken_links.push_back(fmt::format("{}: entry {:#x} comes after {} but its prev is {:#x}", what,
                                                      next - link_offset, name(node), links.prev));
        std::uint64_t entry = next - link_offset;
        std::string problem;
        try {
            problem = visit(entry);
        } catch (const Error& e) {
            problem = fmt::format("entry at {:#x}: {}", entry, e.what());
        }
        if (!problem.empty()) {
            result.problem = fmt::format("{}: {}", what, problem);
            return result;
        }
        ++result.entries;
        node = next;
    }
}

} // namespace vmi
