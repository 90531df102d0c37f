// The kernel threads' hook point of KernelHooks.hpp: what each one runs.

#include <fmt/format.h>

#include "vmi/linux/KernelHooks.hpp"

namespace vmi {
namespace {

// The workqueue workers' comm: "kworker/" then the pool (and, 6.9 and later,
// "R-" and the workqueue for a rescuer).
constexpr std::string_view KWORKER_PREFIX = "kworker/";
constexpr std::string_view RESCUER_PREFIX = "kworker/R-";

} // namespace

void walk_kthreads(const HookContext& context, const std::vector<KernelThread>& threads, KernelHookReport& report)
{
    for (const KernelThread& thread : threads) {
        KernelHook hook;
        hook.kind = HookKind::kthread;
        hook.hooked = thread.comm;
        hook.object = thread.task;
        hook.pid = thread.pid;
        hook.target = thread.function;
        if (thread.function == 0) {
            hook.meaning = fmt::format("pid {}: no thread function (kthreadd, or a thread kthread_create did not make)",
                                       thread.pid);
            report.hooks.push_back(std::move(hook));
            continue;
        }
        hook.owner = context.owners.owner_of(thread.function);
        hook.target_symbol = symbol_for(context, thread.function, hook.owner);
        bool rescuer = thread.comm.starts_with(RESCUER_PREFIX);
        std::string_view worker_function = rescuer ? "rescuer_thread" : "worker_thread";
        if (thread.comm.starts_with(KWORKER_PREFIX) && !symbol_named(context, thread.function, worker_function)) {
            hook.finding = true;
            hook.meaning = fmt::format("pid {}: named like a workqueue worker but runs {}, not {}: a thread that "
                                       "poses as a kworker",
                                       thread.pid, hook.target_symbol.empty() ? "unknown code" : hook.target_symbol,
                                       worker_function);
        } else if (hook.owner.kind == CodeOwner::Kind::none) {
            hook.finding = true;
            hook.meaning =
                fmt::format("pid {}: runs code of no module and not the kernel's: a rootkit's thread", thread.pid);
        } else if (hook.owner.hidden) {
            hook.finding = true;
            hook.meaning = fmt::format("pid {}: runs code of module {}, hidden from the module list: a rootkit's "
                                       "thread",
                                       thread.pid, hook.owner.module);
        } else {
            hook.meaning = hook.owner.kind == CodeOwner::Kind::core
                               ? fmt::format("pid {}: a thread of the kernel", thread.pid)
                               : fmt::format("pid {}: a thread of module {}", thread.pid, hook.owner.module);
        }
        report.hooks.push_back(std::move(hook));
    }
}

} // namespace vmi
