// The PID table view: init_pid_ns.idr is an xarray (4.20 and later) whose
// index is the pid number and whose entries are struct pid pointers.
#include <bit>
#include <fmt/ranges.h>
#include <unordered_set>

#include "vmi/base/Error.hpp"
#include "vmi/linux/KernelListWalk.hpp"
#include "vmi/linux/LinuxTaskViews.hpp"

namespace vmi {
namespace {

// include/linux/xarray.h: an internal entry has bits 1:0 = 10; a node
// pointer is an internal entry above 4096 (smaller ones are retry/sibling
// markers); a value entry has bit 0 set.
bool xa_is_node(std::uint64_t entry) { return (entry & 3) == 2 && entry > 4096; }
bool xa_is_internal(std::uint64_t entry) { return (entry & 3) == 2; }
bool xa_is_value(std::uint64_t entry) { return (entry & 1) != 0; }

struct XaLayout {
    std::uint64_t shift = 0;
    std::uint64_t slots = 0;
    std::uint64_t slot_count = 64;
    unsigned chunk_shift = 6;
};

class PidTableWalk {
public:
    PidTableWalk(AddressSpace& kernel, const PidTableOffsets& o, ObjectView& view, std::size_t max_tasks)
        : kernel_(kernel), view_(view), max_tasks_(max_tasks)
    {
        word_ = pointer_size(kernel.mode());
        xa_.shift = o.xa_node_shift.value_or(0);
        // Without BTF (the i386 profiles): struct xa_node as include/linux/xarray.h
        // lays it out since 4.20: four bytes, parent, array, a list_head, slots.
        xa_.slots = o.xa_node_slots.value_or(4 + 4 * word_ + (word_ == 8 ? 4 : 0));
        xa_.slot_count = o.xa_node_slots_len.value_or(64);
        if (xa_.slot_count == 0 || xa_.slot_count > 256 || !std::has_single_bit(xa_.slot_count))
            fail("xa_node.slots has {} elements: not a power of two up to 256", xa_.slot_count);
        xa_.chunk_shift = static_cast<unsigned>(std::countr_zero(xa_.slot_count));
        pid_tasks_ = o.pid_tasks;
        pid_numbers_ = o.pid_numbers;
        upid_nr_ = o.upid_nr.value_or(0);
        pid_links_ = o.pid_links;
        task_pid_ = o.task_pid;
    }

    void walk(std::uint64_t head)
    {
        if (xa_is_node(head)) {
            node(head - 2, 0, 0);
        } else if (head && !xa_is_internal(head) && !xa_is_value(head)) {
            entry(0, head); // a table of one entry keeps it in the head
        }
    }

private:
    void node(std::uint64_t address, std::uint64_t base, unsigned depth)
    {
        // Pid numbers are ints: 32 bits are six levels of 64 slots.
        constexpr unsigned MAX_DEPTH = 12;
        if (depth > MAX_DEPTH) return problem(fmt::format("node {:#x} deeper than {} levels", address, MAX_DEPTH));
        if (!is_kernel_address(kernel_, address))
            return problem(fmt::format("node pointer {:#x} is not a kernel address", address));
        if (!nodes_.insert(address).second) return problem(fmt::format("node {:#x} reached twice", address));
        if (nodes_.size() > max_tasks_ / 8 + 4096) return problem("more nodes than the cap; stopped");
        std::vector<std::uint64_t> slots(xa_.slot_count);
        unsigned shift = 0;
        try {
            shift = kernel_.read_u32(address + xa_.shift) & 0xff;
            for (std::uint64_t i = 0; i < xa_.slot_count; ++i)
                slots[i] = kernel_.read_pointer(address + xa_.slots + i * word_);
        } catch (const Error& e) {
            return problem(fmt::format("cannot read node {:#x}: {}", address, e.what()));
        }
        if (shift >= 64 || shift % xa_.chunk_shift != 0)
            return problem(fmt::format("node {:#x} has shift {}", address, shift));
        for (std::uint64_t i = 0; i < xa_.slot_count; ++i) {
            std::uint64_t slot = slots[i];
            std::uint64_t index = base + (i << shift);
            if (xa_is_node(slot)) {
                if (shift == 0) {
                    problem(fmt::format("node {:#x}: a leaf slot holds node {:#x}", address, slot));
                    continue;
                }
                node(slot - 2, index, depth + 1);
            } else if (slot && !xa_is_internal(slot) && !xa_is_value(slot)) {
                if (shift != 0) {
                    problem(
                        fmt::format("node {:#x} (shift {}) holds entry {:#x} above the leaves", address, shift, slot));
                    continue;
                }
                entry(index, slot);
            }
        }
    }

    // One struct pid, for pid number `nr`: the task it is the PID of, if any
    // (a process group or session id outlives its leader).
    void entry(std::uint64_t nr, std::uint64_t pid)
    {
        if (view_.objects.size() >= max_tasks_) return problem("more tasks than the cap; stopped");
        if (!is_kernel_address(kernel_, pid))
            return problem(fmt::format("pid {}: struct pid pointer {:#x} is not a kernel address", nr, pid));
        try {
            auto number = static_cast<std::uint32_t>(kernel_.read_u32(pid + pid_numbers_ + upid_nr_));
            if (number != nr)
                return problem(fmt::format("entry {} points to struct pid {:#x}, which is pid {}", nr, pid, number));
            std::uint64_t first = kernel_.read_pointer(pid + pid_tasks_); // tasks[PIDTYPE_PID].first
            if (!first) return;
            if (!is_kernel_address(kernel_, first) || first < pid_links_)
                return problem(fmt::format("pid {}: task link {:#x} is not a kernel address", nr, first));
            std::uint64_t task = first - pid_links_;
            auto tid = static_cast<std::uint32_t>(kernel_.read_u32(task + task_pid_));
            if (tid != nr) return problem(fmt::format("pid {} leads to task {:#x}, whose pid is {}", nr, task, tid));
            view_.objects.insert(task);
        } catch (const Error& e) {
            problem(fmt::format("pid {} (struct pid {:#x}): {}", nr, pid, e.what()));
        }
    }

    // Any problem of the PID table's (a node that cannot be read, an entry
    // that does not agree) may have cost it entries: the view is incomplete.
    void problem(std::string text)
    {
        view_.problems.push_back(walk_stopped("PID table: " + std::move(text)));
        view_.complete = false;
    }

    AddressSpace& kernel_;
    ObjectView& view_;
    std::size_t max_tasks_;
    std::uint64_t word_ = 8;
    XaLayout xa_;
    std::uint64_t pid_tasks_ = 0, pid_numbers_ = 0, upid_nr_ = 0, pid_links_ = 0, task_pid_ = 0;
    std::unordered_set<std::uint64_t> nodes_;
};

} // namespace

ObjectView pid_table_view(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t init_pid_ns,
                          std::size_t max_tasks)
{
    ObjectView view("pid_table");
    LayoutPart<PidTableOffsets> part = layout.pid_table_offsets();
    if (!part.offsets) {
        return unavailable_view(view.id, missing_keys_text(part.missing));
    }
    std::uint64_t head = 0;
    try {
        head = kernel.read_pointer(init_pid_ns + part.offsets->idr_head);
        PidTableWalk walk(kernel, *part.offsets, view, max_tasks);
        walk.walk(head);
    } catch (const Error& e) {
        view.problems.push_back(walk_stopped(fmt::format("PID table: {}", e.what())));
        view.complete = false;
    }
    return view;
}

} // namespace vmi
