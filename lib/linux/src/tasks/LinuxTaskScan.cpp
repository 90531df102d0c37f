// The memory scan view (LinuxTaskViews.hpp, task_scan_view).
#include <algorithm>

#include <fmt/ranges.h>

#include "vmi/base/Error.hpp"
#include "vmi/base/UnalignedLoad.hpp"
#include "vmi/linux/KernelListWalk.hpp"
#include "vmi/linux/LinuxTaskViews.hpp"

namespace vmi {
namespace {

constexpr std::uint64_t TASK_ALIGN = 64;                // L1_CACHE_BYTES: fork.c's task_struct cache alignment
constexpr std::uint64_t CHUNK = std::uint64_t{4} << 20; // read RAM 4 MiB at a time
constexpr std::int64_t PID_MAX_LIMIT = std::int64_t{4} * 1024 * 1024; // include/linux/threads.h
constexpr std::uint32_t EXIT_ZOMBIE = 0x20;
constexpr std::uint32_t EXIT_DEAD = 0x10;
constexpr int MAX_THREADS_SEARCHED = 1 << 16;

struct ScanFields {
    std::uint64_t tasks, pid, comm, comm_length, thread_pid, pid_links, pid_tasks, pid_numbers, upid_nr;
    std::optional<std::uint64_t> tgid, stack, exit_state, thread_node, signal, signal_thread_head;
    std::uint64_t high = 0; // the filter reads a task_struct's first `high` bytes
};

class TaskScan {
public:
    TaskScan(AddressSpace& kernel, ScanFields fields, std::size_t max_tasks)
        : kernel_(kernel),
          f_(fields),
          max_tasks_(max_tasks),
          word_(pointer_size(kernel.mode())),
          kernel_addresses_(kernel_address_bounds(kernel.mode()))
    {}

    // Every place of RAM that passes the filter and points back at itself.
    // RAM that holds no data (never touched: zeros) holds no task_struct.
    std::vector<std::uint64_t> scan(std::uint64_t direct_map)
    {
        std::vector<std::uint64_t> found;
        std::vector<std::uint8_t> buffer;
        MemorySource& memory = kernel_.memory();
        for (const PhysicalRange& data : memory.data_ranges()) {
            // A task_struct that starts in the data may end past it.
            std::uint64_t ram_end = data.end();
            for (const PhysicalRange& ram : memory.ranges())
                if (ram.contains(data.start)) ram_end = ram.end();
            for (std::uint64_t start = data.start; start < data.end(); start += CHUNK) {
                if (found.size() >= max_tasks_) return found;
                // A chunk outside the direct map (i386's highmem) holds no task_struct.
                Translation t = kernel_.try_translate(direct_map + start);
                if (!t.ok || t.physical != start) continue;
                std::uint64_t size = std::min(CHUNK + f_.high, ram_end - start);
                std::uint64_t owned = std::min(CHUNK, data.end() - start);
                buffer.resize(size);
                try {
                    memory.read(start, buffer);
                } catch (const Error&) {
                    continue;
                }
                for (std::uint64_t at = 0; at < owned && at + f_.high <= size; at += TASK_ALIGN)
                    if (plausible(buffer.data() + at) && points_back(direct_map + start + at))
                        found.push_back(direct_map + start + at);
            }
        }
        return found;
    }

    // Whether the place a scan found is (still) a task: read again, filtered
    // and checked again.
    bool still_a_task(std::uint64_t task)
    {
        buffer_.resize(f_.high);
        try {
            kernel_.read(task, buffer_);
        } catch (const Error&) {
            return false;
        }
        return plausible(buffer_.data()) && points_back(task);
    }

private:
    std::uint64_t pointer_at(const std::uint8_t* object, std::uint64_t offset) const
    {
        return load_guest_word(object + offset, static_cast<unsigned>(word_));
    }

    bool kernel_pointer(std::uint64_t value) const { return kernel_addresses_.contains(value); }

    static std::int32_t int_at(const std::uint8_t* object, std::uint64_t offset)
    {
        return load_unaligned<std::int32_t>(object + offset);
    }

    // The cheap filter, on the bytes already read.
    bool plausible(const std::uint8_t* object) const
    {
        if (!kernel_pointer(pointer_at(object, f_.tasks)) || !kernel_pointer(pointer_at(object, f_.tasks + word_)))
            return false;
        std::int32_t pid = int_at(object, f_.pid);
        if (pid <= 0 || pid > PID_MAX_LIMIT) return false;
        if (f_.tgid) {
            std::int32_t tgid = int_at(object, *f_.tgid);
            if (tgid <= 0 || tgid > PID_MAX_LIMIT) return false;
        }
        if (!kernel_pointer(pointer_at(object, f_.thread_pid))) return false;
        if (f_.stack && !kernel_pointer(pointer_at(object, *f_.stack))) return false;
        if (f_.exit_state) {
            auto exit_state = static_cast<std::uint32_t>(int_at(object, *f_.exit_state));
            if (exit_state != 0 && exit_state != EXIT_ZOMBIE && exit_state != EXIT_DEAD) return false;
        }
        const std::uint8_t* comm = object + f_.comm;
        if (comm[0] == 0) return false;
        for (std::uint64_t i = 0; i < f_.comm_length; ++i) {
            if (comm[i] == 0) return true;
            if (comm[i] < 0x20 || comm[i] > 0x7e) return false;
        }
        return false; // no NUL
    }

    // Whether `task` is in the thread group of the signal_struct it points at:
    // signal->thread_head's list reaches its thread_node.
    bool in_own_thread_group(std::uint64_t task)
    {
        if (!f_.signal || !f_.signal_thread_head || !f_.thread_node) return false;
        std::uint64_t signal = kernel_.read_pointer(task + *f_.signal);
        if (!is_kernel_address(kernel_, signal)) return false;
        std::uint64_t head = signal + *f_.signal_thread_head;
        std::uint64_t node = kernel_.read_pointer(head);
        for (int i = 0; i < MAX_THREADS_SEARCHED && node != head; ++i) {
            if (node == task + *f_.thread_node) return true;
            if (!is_kernel_address(kernel_, node)) return false;
            node = kernel_.read_pointer(node);
        }
        return false;
    }

    // Whether its struct pid or its thread group points back at `task`.
    bool points_back(std::uint64_t task)
    {
        try {
            auto pid = static_cast<std::uint32_t>(kernel_.read_u32(task + f_.pid));
            std::uint64_t thread_pid = kernel_.read_pointer(task + f_.thread_pid);
            bool by_pid = kernel_.read_pointer(thread_pid + f_.pid_tasks) == task + f_.pid_links &&
                          kernel_.read_u32(thread_pid + f_.pid_numbers + f_.upid_nr) == pid;
            return by_pid || in_own_thread_group(task);
        } catch (const Error&) {
            return false; // a candidate whose links lead nowhere readable is no task
        }
    }

    AddressSpace& kernel_;
    ScanFields f_;
    std::size_t max_tasks_;
    std::uint64_t word_;
    KernelAddressBounds kernel_addresses_; // is_kernel_address() without a call per word
    std::vector<std::uint8_t> buffer_;
};

// The fields the scan reads, or why it cannot run (`why` set).
ScanFields scan_fields(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t direct_map, std::string& why)
{
    LayoutPart<TaskScanOffsets> part = layout.task_scan_offsets();
    if (!part.offsets || !direct_map) {
        why = part.offsets ? "the kernel's direct map was not found" : missing_keys_text(part.missing);
        return {};
    }
    const TaskScanOffsets& s = *part.offsets;
    TaskOffsets o = layout.task_offsets();
    ScanFields f{o.tasks,
                 o.pid,
                 o.comm,
                 std::min<std::uint64_t>(o.comm_length, 64),
                 s.thread_pid,
                 s.pid_links,
                 s.pid_tasks,
                 s.pid_numbers,
                 s.upid_nr.value_or(0),
                 o.tgid,
                 s.task_stack,
                 o.exit_state,
                 o.thread_node,
                 o.signal,
                 o.signal_thread_head};
    std::uint64_t word = pointer_size(kernel.mode());
    std::vector<std::pair<std::uint64_t, std::uint64_t>> read{
        {f.tasks, 2 * word}, {f.pid, 4}, {f.comm, f.comm_length}, {f.thread_pid, word}};
    for (const auto& [offset, size] : {std::pair{f.tgid, std::uint64_t{4}}, {f.stack, word}, {f.exit_state, 4}})
        if (offset) read.emplace_back(*offset, size);
    for (const auto& [offset, size] : read) f.high = std::max(f.high, offset + size);
    if (f.high > std::uint64_t{64} * 1024)
        why = fmt::format("task_struct fields {} bytes apart: not a plausible layout", f.high);
    return f;
}

} // namespace

TaskScanCandidates task_scan_candidates(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t direct_map,
                                        std::size_t max_tasks)
{
    TaskScanCandidates out;
    ScanFields f = scan_fields(kernel, layout, direct_map, out.unavailable);
    if (!out.unavailable.empty()) {
        out.available = false;
        return out;
    }
    out.tasks = TaskScan(kernel, f, max_tasks).scan(direct_map);
    return out;
}

ObjectView task_scan_view(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t direct_map,
                          std::size_t max_tasks, const TaskScanCandidates* scanned)
{
    ObjectView view("scan");
    ScanFields f = scan_fields(kernel, layout, direct_map, view.unavailable);
    if (scanned && !scanned->available) view.unavailable = scanned->unavailable;
    if (!view.unavailable.empty()) {
        view.available = false;
        return view;
    }
    TaskScan scan(kernel, f, max_tasks);
    if (!scanned) {
        for (std::uint64_t task : scan.scan(direct_map)) view.objects.insert(task);
        return view;
    }
    // The guest ran since: a place that is no task now (it exited, or its
    // memory went to something else) is dropped, never reported.
    for (std::uint64_t task : scanned->tasks)
        if (scan.still_a_task(task)) view.objects.insert(task);
    return view;
}

} // namespace vmi
