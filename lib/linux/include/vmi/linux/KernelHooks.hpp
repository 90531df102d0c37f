#pragma once
// The kernel's hook points, read from outside: where each one sends the
// kernel, who owns the code there (CodeOwners) and whether that is a finding.
// Hook points so far:
//   syscall_table     every slot of sys_call_table, ia32_sys_call_table and
//                     x32_sys_call_table that the kernel has
//   syscall_dispatch  every branch out of x64_sys_call, ia32_sys_call and
//                     x32_sys_call (decoded, X86Branches.hpp)
//   ftrace            every ftrace_ops on ftrace_ops_list: its callback, its
//                     flags and the functions it is attached to
//   kprobe            every registered kprobe's handlers (kprobe_table)
//   tracepoint        every tracepoint probe outside the kernel's text
//   kthread           every kernel thread's thread function
// A hook point the kernel lacks, or that cannot be read, is reported as
// unavailable with the reason, never as clean.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmi/base/Error.hpp"
#include "vmi/linux/CodeOwners.hpp"
#include "vmi/linux/LinuxLayout.hpp"
#include "vmi/paging/AddressSpace.hpp"
#include "vmi/symbols/SymbolTable.hpp"

namespace vmi {

enum class HookKind { syscall_table, syscall_dispatch, ftrace, kprobe, tracepoint, kthread };

// "syscall_table", "syscall_dispatch", "ftrace", "kprobe", "tracepoint", "kthread".
std::string_view hook_kind_name(HookKind kind);

struct KernelHook {
    HookKind kind = HookKind::syscall_table;
    std::uint64_t object = 0; // the structure that holds the hook (ftrace_ops, task_struct); 0 for a slot or a branch
    std::optional<std::int64_t> pid; // kthread: the thread's pid
    std::string hooked;              // "sys_call_table[217]", "x64_sys_call+0x1c2"
    std::uint64_t target = 0;        // where it sends the kernel
    std::string target_symbol;       // "__x64_sys_getdents64", "vmihide+0x120"; "" when nothing names it
    CodeOwner owner;
    std::vector<std::string> flags; // ftrace: the ftrace_ops flags that matter (IPMODIFY, SAVE_REGS, DIRECT, ENABLED)
    std::vector<std::string> attached; // ftrace: the functions it is attached to (empty: every function)
    bool finding = false;
    std::string meaning;
};

// One hook point (one table, one dispatch function) and how its walk went.
struct HookPoint {
    HookKind kind = HookKind::syscall_table;
    std::string name;        // "sys_call_table", "x64_sys_call"
    bool available = false;  // read whole
    bool absent = false;     // the kernel has no such thing, and need not (with `unavailable` saying why)
    std::string unavailable; // why it was not read (a broken walk is also among the report's problems)
    std::size_t entries = 0; // slots, or branches out of the function
};

struct KernelHookReport {
    std::vector<HookPoint> points;
    std::vector<KernelHook> hooks;
    // What went wrong while reading: a hook point whose walk broke off
    // (unreadable memory, a broken list), a module view not walked to its
    // end, a module whose code range could not be read. A hook point that is
    // merely unavailable (its symbols or offsets unknown) is not one.
    std::vector<std::string> problems;
    bool found() const;
};

// What the hook walks read: the kernel's address space, its symbols (the
// whole table, KASLR slide applied) and the owners of its code.
struct HookContext {
    AddressSpace& kernel;
    const SymbolTable& symbols;
    const CodeOwners& owners;
    const LinuxLayout& layout;
};

// "name", "name+0xoff" (core, or a module's function by its own symbols),
// "module+0xoff" (code of a module its symbols do not name), or "" for code
// of no one; of several names at `target`, a system-call function's of
// `prefix` first.
std::string symbol_for(const HookContext& context, std::uint64_t target, const CodeOwner& owner,
                       std::string_view prefix = {});

// The frame of one hook point's walk. `walk` reads the point, appends its
// rows and returns how many entries it has. It throws HookPointUnavailable
// when the point cannot be checked here (its symbols or offsets unknown: a
// warning), vmi::Error when its walk broke off (a problem of the report).
// The point goes to the report either way.
struct HookPointUnavailable {
    std::string why;
};
void walk_hook_point(HookKind kind, std::string name, KernelHookReport& report,
                     const std::function<std::size_t()>& walk);
// `symbol`'s address, or HookPointUnavailable naming it.
std::uint64_t hook_symbol(const HookContext& context, std::string_view symbol);
// The layout's typed offsets of `read`, or HookPointUnavailable with why not.
template <typename Read>
auto hook_offsets(Read&& read)
{
    try {
        return read();
    } catch (const Error& e) {
        throw HookPointUnavailable{e.what()};
    }
}

// Whether one of the kernel's names for `address` is `name`.
bool symbol_named(const HookContext& context, std::uint64_t address, std::string_view name);

// Whether `name` is a system-call function a table slot or the dispatch may
// send the kernel to: a pt_regs wrapper (__x64_sys_*, __ia32_sys_*,
// __x32_compat_sys_*, __ia32_compat_sys_*, __x64_compat_sys_*), sys_ni_syscall,
// or, on kernels before the wrappers (4.17), sys_* and compat_sys_*.
bool is_syscall_function(std::string_view name);

// The system calls of every ABI the kernel has: per ABI its table's slots
// and its dispatch function's branches, appended to `report`. An ABI's table
// without its dispatch function (before 6.9 and its backports), or the
// dispatch without the table (its 32-bit tables went), is normal; an ABI
// the kernel's own width needs with neither is an unavailable hook point.
void walk_system_calls(const HookContext& context, KernelHookReport& report);

// One table's slots / one dispatch function's branches out of it.
void walk_syscall_table(const HookContext& context, std::string_view name, KernelHookReport& report);
void walk_syscall_dispatch(const HookContext& context, std::string_view name, KernelHookReport& report);

// Every ftrace_ops on ftrace_ops_list (FtraceHooks.cpp). A finding: a
// callback of a hidden module or of no module, or one outside the kernel's
// text on an ops that may change the instruction pointer (IPMODIFY): a module
// redirecting kernel functions. The kernel's own users (the function tracer,
// kprobes on ftrace, livepatch, BPF trampolines) have their callbacks in its text.
void walk_ftrace(const HookContext& context, KernelHookReport& report);

// Every kprobe in kprobe_table, with its pre and post handlers (a
// kretprobe's: its entry handler and handler), and every probe of a core
// tracepoint whose function lies outside the kernel's text (ProbeHooks.cpp).
// A finding: a handler or probe of a hidden module or of no module.
void walk_kprobes(const HookContext& context, KernelHookReport& report);
void walk_tracepoints(const HookContext& context, KernelHookReport& report);

// A kernel thread as the task list gave it, with its thread function.
struct KernelThread {
    std::uint64_t task = 0; // its task_struct
    std::int64_t pid = 0;
    std::string comm;
    std::uint64_t function = 0; // struct kthread's threadfn; 0: none (kthreadd)
};

// Every kernel thread's function (KthreadHooks.cpp). A finding: a function of
// a hidden module or of no module, or a thread named like a workqueue worker
// (kworker/...) that runs something else than worker_thread (or, for the
// kworker/R-* rescuers of 6.9 and later, rescuer_thread). Appends the rows
// only: the caller, who reads the threads, frames the point (walk_hook_point).
void walk_kthreads(const HookContext& context, const std::vector<KernelThread>& threads, KernelHookReport& report);

} // namespace vmi
