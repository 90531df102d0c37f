#include "vmi/linux/KernelHooks.hpp"

#include <algorithm>
#include <array>

#include "vmi/base/Error.hpp"
#include "vmi/linux/X86Branches.hpp"

namespace vmi {
namespace {

// A system-call table has some 450 slots on x86-64 (547 with x32's); past
// this the slots are not one table's.
constexpr std::size_t MAX_TABLE_SLOTS = 1024;
// x64_sys_call is about 5 KiB of compares and jumps; ia32_sys_call on i386 10 KiB.
constexpr std::uint64_t MAX_DISPATCH_BYTES = 64 << 10;

bool starts_with_any(std::string_view name, std::initializer_list<std::string_view> prefixes)
{
    return std::any_of(prefixes.begin(), prefixes.end(), [&](std::string_view p) { return name.starts_with(p); });
}

// Code every function may branch to that the compiler or a mitigation put
// there: return and indirect-branch thunks, ftrace's entry, the stack
// protector and the sanitizers' checks.
bool is_compiler_helper(std::string_view name)
{
    return starts_with_any(name, {"__x86_return_thunk", "__x86_indirect_", "srso_", "retbleed_", "zen_untrain_ret",
                                  "entry_untrain_ret", "__x86_return_skl", "__fentry__", "__stack_chk_fail",
                                  "__ubsan_handle_", "__sanitizer_cov_", "__asan_", "__kasan_", "__kcsan_", "__tsan_"});
}

// Whether one of the kernel's names for `address` is one `name_fits`.
template <typename NameFits>
bool lands_on(const HookContext& context, std::uint64_t address, NameFits&& name_fits)
{
    std::vector<const Symbol*> here = context.symbols.at(address);
    return std::any_of(here.begin(), here.end(), [&](const Symbol* s) { return name_fits(s->name); });
}

// The prefix of the system-call functions a hook point of `hooked` calls:
// system calls without arguments have one function under two names
// (__x64_sys_getpid and __ia32_sys_getpid), and the table's ABI picks one.
std::string_view abi_prefix(const HookContext& context, std::string_view hooked)
{
    return hooked.starts_with("ia32") || pointer_size(context.kernel.mode()) == 4 ? "__ia32_" : "__x64_";
}

// The hook row for `target`, reached from `hooked`; `fine` says whether core
// code there is what this hook point must reach, `what` names that.
KernelHook hook_to(const HookContext& context, HookKind kind, std::string hooked, std::uint64_t target, bool fine,
                   std::string_view what)
{
    KernelHook hook;
    hook.kind = kind;
    hook.hooked = std::move(hooked);
    hook.target = target;
    hook.owner = context.owners.owner_of(target);
    hook.target_symbol = symbol_for(context, target, hook.owner, abi_prefix(context, hook.hooked));
    std::string_view where = kind == HookKind::syscall_table ? "the slot" : "the call";
    switch (hook.owner.kind) {
    case CodeOwner::Kind::core:
        hook.finding = !fine;
        hook.meaning = fine ? fmt::format("{} of the kernel's text", what)
                            : fmt::format("kernel text that is not {}: {} was rewritten", what, where);
        break;
    case CodeOwner::Kind::module:
        hook.finding = true;
        hook.meaning = hook.owner.hidden
                           ? fmt::format("code of module {}, hidden from the module list: {} was rewritten by a "
                                         "rootkit",
                                         hook.owner.module, where)
                           : fmt::format("code of module {}: {} was rewritten, the module hooks this system call",
                                         hook.owner.module, where);
        break;
    case CodeOwner::Kind::none:
        hook.finding = true;
        hook.meaning = target == 0 ? fmt::format("address 0: {} was cleared", where)
                                   : fmt::format("code of no module and not the kernel's: {} was rewritten to code "
                                                 "loaded where nothing accounts for it",
                                                 where);
        break;
    }
    return hook;
}

struct SyscallAbi {
    std::string_view table;
    std::string_view dispatch;
    bool needed; // the kernel's own width: one of the two must be there
};

} // namespace

std::string symbol_for(const HookContext& context, std::uint64_t target, const CodeOwner& owner,
                       std::string_view prefix)
{
    switch (owner.kind) {
    case CodeOwner::Kind::core: {
        std::vector<const Symbol*> here = context.symbols.at(target);
        auto rank = [&](const Symbol* s) {
            return is_syscall_function(s->name) ? (s->name.starts_with(prefix) ? 0 : 1) : 2;
        };
        auto best = std::min_element(here.begin(), here.end(),
                                     [&](const Symbol* a, const Symbol* b) { return rank(a) < rank(b); });
        if (best != here.end()) return std::string((*best)->name);
        SymbolTable::Nearest nearest = context.symbols.nearest_below(target);
        if (!nearest.symbol) return {};
        return fmt::format("{}+{:#x}", nearest.symbol->name, nearest.offset);
    }
    case CodeOwner::Kind::module: {
        std::string function = context.owners.module_function(owner, target);
        return function.empty() ? fmt::format("{}+{:#x}", owner.module, target - owner.base) : function;
    }
    case CodeOwner::Kind::none: return {};
    }
    return {};
}

std::string_view hook_kind_name(HookKind kind)
{
    switch (kind) {
    case HookKind::syscall_table: return "syscall_table";
    case HookKind::syscall_dispatch: return "syscall_dispatch";
    case HookKind::ftrace: return "ftrace";
    case HookKind::kprobe: return "kprobe";
    case HookKind::tracepoint: return "tracepoint";
    case HookKind::kthread: return "kthread";
    }
    return "?";
}

bool KernelHookReport::found() const
{
    return std::any_of(hooks.begin(), hooks.end(), [](const KernelHook& h) { return h.finding; });
}

void walk_hook_point(HookKind kind, std::string name, KernelHookReport& report,
                     const std::function<std::size_t()>& walk)
{
    HookPoint point;
    point.kind = kind;
    point.name = std::move(name);
    try {
        point.entries = walk();
        point.available = true;
    } catch (const HookPointUnavailable& e) {
        point.unavailable = e.why;
    } catch (const Error& e) {
        point.unavailable = e.what();
        report.problems.push_back(point.unavailable);
    }
    report.points.push_back(std::move(point));
}

std::uint64_t hook_symbol(const HookContext& context, std::string_view symbol)
{
    const Symbol* found = context.symbols.find(symbol);
    if (!found) throw HookPointUnavailable{fmt::format("the kernel's symbols have no {}", symbol)};
    return found->address;
}

bool symbol_named(const HookContext& context, std::uint64_t address, std::string_view name)
{
    return lands_on(context, address, [&](std::string_view found) { return found == name; });
}

bool is_syscall_function(std::string_view name)
{
    return name == "sys_ni_syscall" ||
           starts_with_any(name, {"__x64_sys_", "__ia32_sys_", "__x32_compat_sys_", "__ia32_compat_sys_",
                                  "__x64_compat_sys_", "sys_", "compat_sys_"});
}

void walk_syscall_table(const HookContext& context, std::string_view name, KernelHookReport& report)
{
    HookPoint point;
    point.kind = HookKind::syscall_table;
    point.name = name;
    const Symbol* table = context.symbols.find(name);
    if (!table) {
        point.unavailable = fmt::format("the kernel's symbols have no {}", name);
        report.points.push_back(std::move(point));
        return;
    }
    unsigned width = pointer_size(context.kernel.mode());
    const Symbol* next = context.symbols.next_above(table->address);
    std::size_t slots = MAX_TABLE_SLOTS;
    if (next) slots = std::min<std::uint64_t>(slots, (next->address - table->address) / width);
    std::vector<std::uint64_t> targets;
    try {
        for (std::size_t i = 0; i < slots; ++i)
            targets.push_back(context.kernel.read_pointer(table->address + i * width));
    } catch (const Error& e) {
        point.unavailable =
            fmt::format("{} at {:#x}: slot {} unreadable: {}", name, table->address, targets.size(), e.what());
        report.problems.push_back(point.unavailable);
        report.points.push_back(std::move(point));
        return;
    }
    // The symbol after the table may lie past its alignment padding.
    while (!targets.empty() && targets.back() == 0) targets.pop_back();
    for (std::size_t i = 0; i < targets.size(); ++i) {
        bool fine = lands_on(context, targets[i], is_syscall_function);
        report.hooks.push_back(hook_to(context, HookKind::syscall_table, fmt::format("{}[{}]", name, i), targets[i],
                                       fine, "a system-call function"));
    }
    point.available = true;
    point.entries = targets.size();
    report.points.push_back(std::move(point));
}

void walk_syscall_dispatch(const HookContext& context, std::string_view name, KernelHookReport& report)
{
    HookPoint point;
    point.kind = HookKind::syscall_dispatch;
    point.name = name;
    const Symbol* function = context.symbols.find(name);
    const Symbol* next = function ? context.symbols.next_above(function->address) : nullptr;
    if (!function || !next) {
        point.unavailable = function ? fmt::format("no symbol follows {}: where it ends is unknown", name)
                                     : fmt::format("the kernel's symbols have no {}", name);
        report.points.push_back(std::move(point));
        return;
    }
    std::uint64_t start = function->address, size = next->address - start;
    if (size > MAX_DISPATCH_BYTES) {
        point.unavailable = fmt::format("{} would be {} bytes long (the next symbol, {}, is that far): not a dispatch "
                                        "function",
                                        name, size, next->name);
        report.problems.push_back(point.unavailable);
        report.points.push_back(std::move(point));
        return;
    }
    std::vector<std::uint8_t> bytes(size);
    try {
        context.kernel.read(start, bytes);
    } catch (const Error& e) {
        point.unavailable = fmt::format("{} at {:#x} unreadable: {}", name, start, e.what());
        report.problems.push_back(point.unavailable);
        report.points.push_back(std::move(point));
        return;
    }
    X86Code code = decode_branches(bytes, start, 8 * pointer_size(context.kernel.mode()));
    // With retpolines (every distribution kernel) the compiler emits no
    // indirect branch: it calls a thunk instead. Without, a switch may be a
    // jump table.
    bool retpolines = context.symbols.find("__x86_indirect_thunk_array") ||
                      context.symbols.find("__x86_indirect_thunk_rax") ||
                      context.symbols.find("__x86_indirect_thunk_eax");
    auto hooked = [&](std::uint64_t at) { return fmt::format("{}+{:#x}", name, at - start); };
    for (const X86Branch& branch : code.branches) {
        if (branch.direct() && branch.target >= start && branch.target < start + size) continue; // its own code
        ++point.entries;
        if (!branch.direct()) {
            KernelHook hook;
            hook.kind = HookKind::syscall_dispatch;
            hook.hooked = hooked(branch.at);
            hook.finding = retpolines;
            hook.meaning = retpolines ? std::string("an indirect branch, which a kernel built with retpolines has "
                                                    "none of: the dispatch code was patched")
                                      : std::string("an indirect branch (a kernel without retpolines: a jump table)");
            report.hooks.push_back(std::move(hook));
            continue;
        }
        if (branch.at == start && branch.kind == X86Branch::Kind::call) {
            // The ftrace call site, live while something traces the function.
            KernelHook hook =
                hook_to(context, HookKind::syscall_dispatch, hooked(branch.at), branch.target, true, "ftrace's entry");
            hook.finding = false;
            hook.meaning = "the ftrace call site: something traces " + std::string(name) +
                           " (its ftrace_ops are ftrace's hook point)";
            report.hooks.push_back(std::move(hook));
            continue;
        }
        bool syscall = lands_on(context, branch.target, is_syscall_function);
        bool helper = !syscall && lands_on(context, branch.target, is_compiler_helper);
        KernelHook hook = hook_to(context, HookKind::syscall_dispatch, hooked(branch.at), branch.target,
                                  syscall || helper, helper ? "a thunk the compiler calls" : "a system-call function");
        report.hooks.push_back(std::move(hook));
    }
    if (code.undecodable_at) {
        KernelHook hook;
        hook.kind = HookKind::syscall_dispatch;
        hook.hooked = hooked(*code.undecodable_at);
        hook.finding = true;
        hook.meaning = "bytes that are no x86 instruction: the dispatch code was overwritten";
        report.hooks.push_back(std::move(hook));
    }
    point.available = true;
    report.points.push_back(std::move(point));
}

void walk_system_calls(const HookContext& context, KernelHookReport& report)
{
    bool wide = pointer_size(context.kernel.mode()) == 8;
    std::array<SyscallAbi, 3> abis =
        wide ? std::array<SyscallAbi, 3>{{{"sys_call_table", "x64_sys_call", true},
                                          {"ia32_sys_call_table", "ia32_sys_call", false},
                                          {"x32_sys_call_table", "x32_sys_call", false}}}
             : std::array<SyscallAbi, 3>{{{"sys_call_table", "ia32_sys_call", true}, {}, {}}};
    for (const SyscallAbi& abi : abis) {
        if (abi.table.empty()) continue;
        bool table = context.symbols.find(abi.table) != nullptr;
        bool dispatch = context.symbols.find(abi.dispatch) != nullptr;
        if (table) walk_syscall_table(context, abi.table, report);
        if (dispatch) walk_syscall_dispatch(context, abi.dispatch, report);
        auto absent = [&](HookKind kind, std::string_view name, std::string why, bool needed) {
            report.points.push_back({kind, std::string(name), false, !needed, std::move(why), 0});
        };
        if (table && !dispatch)
            absent(HookKind::syscall_dispatch, abi.dispatch,
                   fmt::format("the kernel has no {}: it calls through {} (before 6.9 and its backports)", abi.dispatch,
                               abi.table),
                   false);
        if (!table && dispatch)
            absent(HookKind::syscall_table, abi.table,
                   fmt::format("not among the kernel's symbols; the kernel dispatches through {}", abi.dispatch),
                   false);
        if (!table && !dispatch) {
            std::string why = abi.needed ? fmt::format("the kernel's symbols have neither {} nor {}: its system "
                                                       "calls cannot be checked",
                                                       abi.table, abi.dispatch)
                                         : fmt::format("the kernel has neither {} nor {}: no such system calls",
                                                       abi.table, abi.dispatch);
            if (abi.needed) report.problems.push_back(why);
            absent(HookKind::syscall_table, abi.table, why, abi.needed);
        }
    }
}

} // namespace vmi
