#pragma once
// Linux processes as the kernel keeps them: init_task heads a circular list
// of thread-group leaders through task_struct.tasks (paper, Figure 13); each
// leader heads its own list of threads.
//
// The guest is distrusted throughout. A walk that cannot go on (a bad link,
// a loop, the cap) ends with a problem naming the entry; a field of one task
// that cannot be read (a bad cred pointer, an unterminated comm) is marked
// bad on that task, with why, and the walk goes on to the next task.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "vmi/linux/LinuxLayout.hpp"
#include "vmi/linux/WalkProblem.hpp"
#include "vmi/paging/AddressSpace.hpp"

namespace vmi {

struct LinuxTask {
    std::uint64_t address = 0;        // the task_struct
    std::int64_t tid = 0;             // thread id: the kernel's task->pid
    std::int64_t pid = 0;             // process id: the kernel's task->tgid, what ps calls PID
    std::optional<std::int64_t> ppid; // process id of real_parent
    std::optional<std::uint32_t> uid; // effective ids, as ps shows them
    std::optional<std::uint32_t> gid;
    std::optional<char> state;         // ps's letter: R S D T t X Z P I
    std::string name;                  // as procfs shows it (see procfs_name)
    std::string comm;                  // task->comm, at most 15 bytes
    std::optional<bool> kernel_thread; // PF_KTHREAD
    std::uint64_t mm = 0;              // 0 for kernel threads
    std::optional<std::uint64_t> dtb;  // physical address of mm->pgd
    // On its way out (exit_state set, or PF_EXITING) or not yet woken after
    // fork (TASK_NEW): such a task may be on some kernel lists and not others.
    bool exiting = false;
    bool just_forked = false;
    // Fields that could not be read, each with why: {"uid", "cred pointer 0x10 is not a kernel address"}.
    std::vector<std::pair<std::string_view, std::string>> bad_fields;

    // Whether field `name` ("pid", "ppid", "uid", "gid", "state", "name", "comm", "kernel_thread",
    // "dtb") could not be read.
    bool bad(std::string_view field) const;
};

struct TaskListing {
    std::vector<LinuxTask> tasks;
    // Why a walk stopped early, links that do not point back, tasks with bad
    // fields: each names the entry. Empty when the lists were whole.
    std::vector<WalkProblem> problems;
    bool complete = true; // the task list's walk went round to its head
};

struct TaskListOptions {
    bool threads = false;
    std::size_t max_tasks = 1 << 22; // for all the lists together
};

// ps's state letter for a task's __state and exit_state (fs/proc/array.c,
// __task_state_index, 4.14 and later): idle as I; waiting for an RT lock
// and frozen as D.
char linux_task_state_letter(std::uint32_t state, std::uint32_t exit_state);

class LinuxTaskList {
public:
    LinuxTaskList(AddressSpace& kernel, const LinuxLayout& layout);

    // Every task after init_task (pid 0, which ps does not show either).
    TaskListing list(std::uint64_t init_task, const TaskListOptions& options);

    // Reads one task_struct. Fields that cannot be read are marked bad.
    LinuxTask read_task(std::uint64_t address);

    // The command line from the process's own memory through its own page
    // tables, NULs as spaces, cut at `max_length` bytes with "..." appended;
    // "[name]" for kernel threads and when the arguments cannot be read, as
    // ps shows them. nullopt when the layout lacks the mm_struct offsets.
    std::optional<std::string> command_line(const LinuxTask& task, std::size_t max_length = 4096);

    // A kernel thread's thread function (struct kthread's threadfn, what
    // kthread_create was given): 0 for one that has none (kthreadd). Throws
    // vmi::Error when the layout lacks the offsets or memory is unreadable.
    std::uint64_t thread_function(const LinuxTask& task);

private:
    // The name /proc/PID/stat shows (fs/proc/array.c, proc_task_name).
    std::string procfs_name(std::uint64_t task, std::uint32_t flags, const std::string& comm);
    std::string worker_name(std::uint64_t kthread, const std::string& comm);
    void walk_threads(const LinuxTask& leader, TaskListing& listing, std::unordered_set<std::uint64_t>& listed,
                      std::size_t& budget);
    std::string describe(std::uint64_t task);

    AddressSpace& kernel_;
    const LinuxLayout& layout_;
    TaskOffsets offsets_;
    // The part of a task_struct read in one go: [span_start_, span_end_).
    std::uint64_t span_start_ = 0;
    std::uint64_t span_end_ = 0;
};

} // namespace vmi
