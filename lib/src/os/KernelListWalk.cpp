#include "vmi/KernelListWalk.hpp"

#include <unordered_set>

#include "vmi/Error.hpp"

namespace vmi {

bool is_kernel_address(const AddressSpace& kernel, std::uint64_t address)
{
    switch (kernel.mode()) {
    case PagingMode::IA32e: return address >= 0xffff800000000000ULL;
    case PagingMode::LA57: return address >= 0xff00000000000000ULL;
    case PagingMode::Legacy32:
    case PagingMode::PAE:
        // The lowest PAGE_OFFSET any VMSPLIT option allows.
        return address >= 0x40000000ULL && address <= 0xffffffffULL;
    }
    return false;
}

ListWalkResult walk_kernel_list(AddressSpace& kernel, std::uint64_t head, std::uint64_t link_offset,
                                std::size_t max_entries, std::string_view what,
                                const std::function<std::string(std::uint64_t entry)>& visit,
                                const std::function<std::string(std::uint64_t entry)>& describe)
{
    ListWalkResult result;
    std::unordered_set<std::uint64_t> seen{head};
    std::uint64_t node = head;
    std::string previous = "its head";
    for (;;) {
        std::uint64_t next = 0;
        try {
            next = kernel.read_pointer(node);
        } catch (const Error& e) {
            result.problem = fmt::format("{}: cannot read the next pointer of {}: {}", what, previous, e.what());
            return result;
        }
        if (next == head) return result;
        if (!is_kernel_address(kernel, next) || next < link_offset) {
            result.problem = fmt::format("{}: {} has next pointer {:#x}, which is not a kernel address", what,
                                         previous, next);
            return result;
        }
        if (!seen.insert(next).second) {
            result.problem = fmt::format("{}: {} points back to an entry already seen ({:#x}): the list loops", what,
                                         previous, next - link_offset);
            return result;
        }
        if (result.entries >= max_entries) {
            result.problem = fmt::format("{}: more than {} entries; stopped", what, max_entries);
            return result;
        }
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
        previous = describe(entry);
        node = next;
    }
}

} // namespace vmi
