#pragma once
// Follows a kernel circular doubly-linked list (struct list_head) the way
// the paper's Figure 13 does — find the head, follow next, stop at the head —
// but distrusts every pointer: each must be a kernel address that translates
// to RAM, no entry may be seen twice, and the walk has a hard cap. A guest
// that breaks any of this ends the walk with a problem naming the entry.
#include <cstdint>
#include <functional>
#include <string>

#include "vmi/AddressSpace.hpp"

namespace vmi {

struct ListWalkResult {
    std::size_t entries = 0;
    std::string problem; // empty when the list closed back on its head
    bool complete() const { return problem.empty(); }
};

// Calls `visit(entry)` for every element after `head`, where entry is the
// address of the structure holding the list_head at `link_offset`. `visit`
// returns a problem to end the walk, or an empty string to go on. `what`
// names the list in problems ("task list"); `describe(entry)` names an entry.
ListWalkResult walk_kernel_list(AddressSpace& kernel, std::uint64_t head, std::uint64_t link_offset,
                                std::size_t max_entries, std::string_view what,
                                const std::function<std::string(std::uint64_t entry)>& visit,
                                const std::function<std::string(std::uint64_t entry)>& describe);

// A plausible kernel pointer for this address space's paging mode.
bool is_kernel_address(const AddressSpace& kernel, std::uint64_t address);

} // namespace vmi
