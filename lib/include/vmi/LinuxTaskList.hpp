#pragma once
// Linux processes as the kernel keeps them: init_task heads a circular list
// of thread-group leaders through task_struct.tasks (paper, Figure 13); each
// leader heads its own list of threads.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vmi/AddressSpace.hpp"
#include "vmi/LinuxLayout.hpp"

namespace vmi {

struct LinuxTask {
    std::uint64_t address = 0; // the task_struct
    std::int64_t pid = 0;      // thread id (the kernel's task->pid)
    std::int64_t tgid = 0;     // process id, what ps calls PID
    std::int64_t ppid = 0;     // tgid of real_parent
    std::uint32_t uid = 0;     // effective ids, as ps shows them
    std::uint32_t gid = 0;
    char state = '?';          // ps's letter: R S D T t X Z P I
    std::string name;          // as procfs shows it (see procfs_name)
    std::string comm;          // task->comm, at most 15 bytes
    bool kernel_thread = false;
    std::uint64_t mm = 0;      // 0 for kernel threads
    std::optional<std::uint64_t> dtb; // physical address of mm->pgd
};

struct TaskListing {
    std::vector<LinuxTask> tasks;
    // Why the walk stopped early, naming the bad entry; empty when complete.
    std::vector<std::string> problems;
};

struct TaskListOptions {
    bool threads = false;
    std::size_t max_tasks = 1 << 22;
};

// ps's state letter for a task's __state and exit_state (fs/proc/array.c).
char linux_task_state_letter(std::uint32_t state, std::uint32_t exit_state);

class LinuxTaskList {
public:
    LinuxTaskList(AddressSpace& kernel, const LinuxLayout& layout) : kernel_(kernel), layout_(layout) {}

    // Every task after init_task (pid 0, which ps does not show either).
    TaskListing list(std::uint64_t init_task, const TaskListOptions& options);

    // Reads one task_struct; throws vmi::Error when it cannot be read or is
    // not plausible (an unterminated name).
    LinuxTask read_task(std::uint64_t task);

    // The command line from the process's own memory through its own page
    // tables, NULs as spaces; "[name]" for kernel threads or when unreadable.
    std::string command_line(const LinuxTask& task, std::size_t max_length = 4096);

private:
    // The name /proc/PID/stat shows (fs/proc/array.c, proc_task_name): a
    // workqueue worker's comm plus "+desc" or "-desc", a kernel thread's full
    // name (since 5.17 comm keeps only its first 15 bytes), else comm. Falls
    // back to comm when the layout lacks the fields or the pointers are bad.
    std::string procfs_name(std::uint64_t task, std::uint32_t flags, const std::string& comm);
    std::string walk_threads(const LinuxTask& leader, TaskListing& listing, const TaskListOptions& options);

    AddressSpace& kernel_;
    const LinuxLayout& layout_;
};

} // namespace vmi
