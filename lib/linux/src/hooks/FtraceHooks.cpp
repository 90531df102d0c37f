// The ftrace hook point of KernelHooks.hpp: ftrace_ops_list, one row per
// registered ftrace_ops.
#include <set>

#include "vmi/base/Error.hpp"
#include "vmi/linux/KernelHooks.hpp"
#include "vmi/linux/KernelListWalk.hpp"

namespace vmi {
namespace {

// Registered ops are a handful (the function tracer, kprobes, livepatch,
// each BPF trampoline); a list longer than this is not the kernel's.
constexpr std::size_t MAX_OPS = 4096;
// FTRACE_HASH_MAX_BITS is 12; a filter hash holds at most every traceable function.
constexpr std::uint64_t MAX_HASH_BITS = 16;
constexpr std::size_t MAX_ENTRIES = 1 << 17;
// The functions named in a row; the rest are counted.
constexpr std::size_t NAMED_FUNCTIONS = 16;

bool has_flag(const Offset& value, std::uint64_t flags)
{
    // The enumerators are the bits' values (BIT(n)), not their numbers.
    return value && *value != 0 && (flags & *value) == *value;
}

std::vector<std::string> flag_names(const FtraceOffsets& o, std::uint64_t flags)
{
    std::vector<std::string> names;
    for (auto [value, name] : {std::pair{o.flag_ipmodify, "IPMODIFY"}, std::pair{o.flag_save_regs, "SAVE_REGS"},
                               std::pair{o.flag_direct, "DIRECT"}, std::pair{o.flag_enabled, "ENABLED"}})
        if (has_flag(value, flags)) names.emplace_back(name);
    return names;
}

// The functions in the ops' filter hash, by name (SYMBOL or SYMBOL+0xOFF:
// the call site past an endbr64); empty for an empty hash (every function).
std::vector<std::string> attached_functions(const HookContext& context, const FtraceOffsets& o, std::uint64_t ops)
{
    AddressSpace& kernel = context.kernel;
    std::uint64_t func_hash = kernel.read_pointer(ops + o.ops_func_hash);
    if (func_hash == 0) return {};
    if (!is_kernel_address(kernel, func_hash))
        fail("ftrace_ops {:#x}: func_hash {:#x} is no kernel address", ops, func_hash);
    std::uint64_t hash = kernel.read_pointer(func_hash + o.hash_filter);
    if (hash == 0) return {};
    if (!is_kernel_address(kernel, hash)) fail("ftrace_ops {:#x}: filter hash {:#x} is no kernel address", ops, hash);
    std::uint64_t count = kernel.read_pointer(hash + o.hash_count);
    if (count == 0) return {};
    std::uint64_t bits = kernel.read_pointer(hash + o.hash_size_bits);
    std::uint64_t buckets = kernel.read_pointer(hash + o.hash_buckets);
    if (bits > MAX_HASH_BITS || !is_kernel_address(kernel, buckets))
        fail("ftrace_ops {:#x}: filter hash {:#x} has {} size bits and buckets at {:#x}: not a hash", ops, hash, bits,
             buckets);
    unsigned width = pointer_size(kernel.mode());
    std::vector<std::string> names;
    std::size_t entries = 0;
    for (std::uint64_t b = 0; b < (1ULL << bits); ++b) {
        // hlist_head.first, then hlist_node.next: both the structures' first member.
        std::uint64_t node = kernel.read_pointer(buckets + b * width);
        std::set<std::uint64_t> seen;
        while (node != 0) {
            if (!is_kernel_address(kernel, node) || !seen.insert(node).second || ++entries > MAX_ENTRIES)
                fail("ftrace_ops {:#x}: filter hash {:#x} bucket {} is no list", ops, hash, b);
            if (names.size() < NAMED_FUNCTIONS) {
                std::uint64_t ip = kernel.read_pointer(node + o.entry_ip);
                names.push_back(symbol_for(context, ip, context.owners.owner_of(ip)));
                if (names.back().empty()) names.back() = fmt::format("{:#x}", ip);
            }
            node = kernel.read_pointer(node);
        }
    }
    if (entries > names.size()) names.push_back(fmt::format("+{}", entries - names.size()));
    return names;
}

KernelHook ftrace_hook(const HookContext& context, const FtraceOffsets& o, std::uint64_t ops)
{
    AddressSpace& kernel = context.kernel;
    KernelHook hook;
    hook.kind = HookKind::ftrace;
    hook.target = kernel.read_pointer(ops + o.ops_func);
    std::uint64_t flags = kernel.read_pointer(ops + o.ops_flags);
    hook.flags = flag_names(o, flags);
    hook.attached = attached_functions(context, o, ops);
    hook.object = ops;
    // The functions by name, a few; every one for an empty filter hash.
    hook.hooked = hook.attached.empty() ? std::string("*") : hook.attached.front();
    for (std::size_t i = 1; i < std::min<std::size_t>(hook.attached.size(), 3); ++i)
        hook.hooked += "," + hook.attached[i];
    if (hook.attached.size() > 3) hook.hooked += fmt::format(",+{}", hook.attached.size() - 3);
    hook.owner = context.owners.owner_of(hook.target);
    hook.target_symbol = symbol_for(context, hook.target, hook.owner);
    bool ipmodify = has_flag(o.flag_ipmodify, flags);
    switch (hook.owner.kind) {
    case CodeOwner::Kind::core:
        hook.meaning = "the kernel's own use of ftrace (the function tracer, kprobes, livepatch or BPF)";
        break;
    case CodeOwner::Kind::module:
        hook.finding = hook.owner.hidden || ipmodify;
        hook.meaning =
            hook.owner.hidden ? fmt::format("a callback of module {}, hidden from the module list: a rootkit's hook",
                                            hook.owner.module)
            : ipmodify
                ? fmt::format("module {} redirects kernel functions (IPMODIFY): how rootkits hook", hook.owner.module)
                : fmt::format("module {} traces kernel functions, changing nothing (IPMODIFY unset)",
                              hook.owner.module);
        break;
    case CodeOwner::Kind::none:
        hook.finding = true;
        hook.meaning = "a callback in code of no module and not the kernel's: a rootkit's hook";
        break;
    }
    return hook;
}

} // namespace

void walk_ftrace(const HookContext& context, KernelHookReport& report)
{
    walk_hook_point(HookKind::ftrace, "ftrace_ops_list", report, [&] {
        std::uint64_t list = hook_symbol(context, "ftrace_ops_list");
        std::uint64_t end = hook_symbol(context, "ftrace_list_end");
        FtraceOffsets offsets = hook_offsets([&] { return context.layout.ftrace_offsets(); });
        AddressSpace& kernel = context.kernel;
        std::vector<KernelHook> hooks;
        std::set<std::uint64_t> seen;
        for (std::uint64_t ops = kernel.read_pointer(list); ops != end;
             ops = kernel.read_pointer(ops + offsets.ops_next)) {
            if (!is_kernel_address(kernel, ops)) fail("ftrace_ops_list: {:#x} is no kernel address", ops);
            if (!seen.insert(ops).second) fail("ftrace_ops_list: ftrace_ops {:#x} twice, a loop", ops);
            if (seen.size() > MAX_OPS) fail("ftrace_ops_list: more than {} ftrace_ops", MAX_OPS);
            hooks.push_back(ftrace_hook(context, offsets, ops));
        }
        for (KernelHook& hook : hooks) report.hooks.push_back(std::move(hook));
        return seen.size();
    });
}

} // namespace vmi
