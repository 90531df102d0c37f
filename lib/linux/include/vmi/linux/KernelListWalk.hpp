#pragma once
// Follows a Linux circular doubly-linked list (struct list_head) the way the
// paper's Figure 13 does — find the head, follow next, stop at the head — but
// distrusts every pointer: each must be a kernel address that translates to
// RAM, no entry may be seen twice, and the walk has a hard cap. A guest that
// breaks any of this ends the walk with a problem naming the entry. Every
// step also checks the way back (next->prev == node): a list torn by a live
// guest or edited by a rootkit shows there, and the walk says so and goes on.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vmi/linux/WalkProblem.hpp"
#include "vmi/paging/AddressSpace.hpp"

namespace vmi {

struct ListWalkResult {
    std::size_t entries = 0;
    std::string problem;                   // why the walk stopped early; empty when it closed on its head
    std::vector<std::string> broken_links; // entries whose prev does not point back (the walk went on)
    bool complete() const { return problem.empty(); }
};

// Calls `visit(entry)` for every element after `head`, where entry is the
// address of the structure holding the list_head at `link_offset`. `visit`
// returns a problem to end the walk, or an empty string to go on. `what`
// names the list in problems ("task list"); `describe(entry)` names an entry,
// and is called only to word a problem.
ListWalkResult walk_kernel_list(AddressSpace& kernel, std::uint64_t head, std::uint64_t link_offset,
                                std::size_t max_entries, std::string_view what,
                                const std::function<std::string(std::uint64_t entry)>& visit,
                                const std::function<std::string(std::uint64_t entry)>& describe);

// The walk's problems as typed ones, appended to `problems`: why it stopped
// (walk_stopped), then each broken link (broken_link).
void add_walk_problems(ListWalkResult& result, std::vector<WalkProblem>& problems);

// A plausible Linux kernel pointer for this address space's paging mode: the
// upper half on x86-64 (LA57: the top 8 bits set), at or above the lowest
// PAGE_OFFSET any VMSPLIT option allows on i386.
bool is_kernel_address(const AddressSpace& kernel, std::uint64_t address);

// The same as bounds, lowest and highest kernel address, for a loop that
// tests millions of words (the memory scan).
struct KernelAddressBounds {
    std::uint64_t lowest = 0;
    std::uint64_t highest = ~std::uint64_t{0};
    bool contains(std::uint64_t address) const { return address >= lowest && address <= highest; }
};
KernelAddressBounds kernel_address_bounds(PagingMode mode);

} // namespace vmi
