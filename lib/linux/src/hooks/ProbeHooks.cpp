// The kprobe and tracepoint hook points of KernelHooks.hpp: every registered
// kprobe's handlers, and every tracepoint probe outside the kernel's text.
#include <set>

#include <fmt/format.h>

#include "vmi/base/Error.hpp"
#include "vmi/base/UnalignedLoad.hpp"
#include "vmi/linux/KernelHooks.hpp"
#include "vmi/linux/KernelListWalk.hpp"

namespace vmi {
namespace {

// kprobe_table has 64 heads (KPROBE_HASH_BITS 6); a registered kprobe per
// traced place: thousands would be a lot.
constexpr std::size_t MAX_TABLE_HEADS = 1024;
constexpr std::size_t MAX_KPROBES = 1 << 16;
// A kernel has about 2,000 tracepoints, a tracepoint a few probes.
constexpr std::size_t MAX_TRACEPOINTS = 1 << 16;
constexpr std::size_t MAX_PROBES = 1024;

// The row of one handler of a kprobe (or tracepoint probe) reaching `handler`.
KernelHook probe_hook(const HookContext& context, HookKind kind, std::string hooked, std::uint64_t object,
                      std::uint64_t handler, std::string_view role)
{
    KernelHook hook;
    hook.kind = kind;
    hook.hooked = std::move(hooked);
    hook.object = object;
    hook.target = handler;
    hook.owner = context.owners.owner_of(handler);
    hook.target_symbol = symbol_for(context, handler, hook.owner);
    hook.flags = {std::string(role)};
    switch (hook.owner.kind) {
    case CodeOwner::Kind::core: hook.meaning = fmt::format("the kernel's own {}", role); break;
    case CodeOwner::Kind::module:
        hook.finding = hook.owner.hidden;
        hook.meaning = hook.owner.hidden
                           ? fmt::format("the {} of module {}, hidden from the module list: a rootkit's hook", role,
                                         hook.owner.module)
                           : fmt::format("the {} of module {}", role, hook.owner.module);
        break;
    case CodeOwner::Kind::none:
        hook.finding = true;
        hook.meaning = fmt::format("a {} in code of no module and not the kernel's: a rootkit's hook", role);
        break;
    }
    return hook;
}

// "function" or "function+0xoff" for the probed address.
std::string probed(const HookContext& context, std::uint64_t address)
{
    std::string name = symbol_for(context, address, context.owners.owner_of(address));
    return name.empty() ? fmt::format("{:#x}", address) : name;
}

// One registered kprobe's handlers (its own, or a kretprobe's around it).
void kprobe_rows(const HookContext& context, const KprobeOffsets& o, std::uint64_t kprobe, std::vector<KernelHook>& out)
{
    AddressSpace& kernel = context.kernel;
    std::string where = probed(context, kernel.read_pointer(kprobe + o.addr));
    std::uint64_t pre = kernel.read_pointer(kprobe + o.pre_handler);
    std::uint64_t post = kernel.read_pointer(kprobe + o.post_handler);
    if (pre && symbol_named(context, pre, "pre_handler_kretprobe") && o.kretprobe_kp && o.kretprobe_handler) {
        // A kretprobe: its kprobe's handler is the kernel's; the user's are around it.
        std::uint64_t kretprobe = kprobe - *o.kretprobe_kp;
        for (auto [offset, role] : {std::pair{o.kretprobe_entry_handler, "kretprobe entry handler"},
                                    std::pair{o.kretprobe_handler, "kretprobe handler"}}) {
            std::uint64_t handler = offset ? kernel.read_pointer(kretprobe + *offset) : 0;
            if (handler) out.push_back(probe_hook(context, HookKind::kprobe, where, kretprobe, handler, role));
        }
        return;
    }
    if (pre) out.push_back(probe_hook(context, HookKind::kprobe, where, kprobe, pre, "kprobe pre handler"));
    if (post) out.push_back(probe_hook(context, HookKind::kprobe, where, kprobe, post, "kprobe post handler"));
}

} // namespace

void walk_kprobes(const HookContext& context, KernelHookReport& report)
{
    walk_hook_point(HookKind::kprobe, "kprobe_table", report, [&] {
        std::uint64_t table = hook_symbol(context, "kprobe_table");
        KprobeOffsets offsets = hook_offsets([&] { return context.layout.kprobe_offsets(); });
        AddressSpace& kernel = context.kernel;
        unsigned width = pointer_size(kernel.mode());
        const Symbol* next = context.symbols.next_above(table);
        std::size_t heads = next ? std::min<std::uint64_t>(MAX_TABLE_HEADS, (next->address - table) / width) : 64;
        std::vector<KernelHook> hooks;
        std::set<std::uint64_t> seen;
        auto add = [&](std::uint64_t kprobe) {
            if (!is_kernel_address(kernel, kprobe) || !seen.insert(kprobe).second || seen.size() > MAX_KPROBES)
                fail("kprobe_table: {:#x} is no kprobe, or a loop", kprobe);
            kprobe_rows(context, offsets, kprobe, hooks);
        };
        std::set<std::uint64_t> nodes; // the table's own kprobes, aggregates included
        for (std::size_t h = 0; h < heads; ++h) {
            // hlist_head.first, then kprobe.hlist (its first member).next.
            for (std::uint64_t p = kernel.read_pointer(table + h * width); p != 0; p = kernel.read_pointer(p)) {
                if (!is_kernel_address(kernel, p) || !nodes.insert(p).second || nodes.size() > MAX_KPROBES)
                    fail("kprobe_table[{}]: {:#x} is no kprobe, or a loop", h, p);
                std::uint64_t pre = kernel.read_pointer(p + offsets.pre_handler);
                if (!pre || !symbol_named(context, pre, "aggr_pre_handler")) {
                    add(p);
                    continue;
                }
                // An aggregate: the kprobes on one address, on its list.
                ListWalkResult walked = walk_kernel_list(
                    kernel, p + offsets.list, offsets.list, MAX_KPROBES, fmt::format("kprobes aggregated at {:#x}", p),
                    [&](std::uint64_t kprobe) -> std::string {
                        add(kprobe);
                        return {};
                    },
                    [](std::uint64_t kprobe) { return fmt::format("kprobe {:#x}", kprobe); });
                if (!walked.complete()) fail("{}", walked.problem);
            }
        }
        for (KernelHook& hook : hooks) report.hooks.push_back(std::move(hook));
        return seen.size();
    });
}

void walk_tracepoints(const HookContext& context, KernelHookReport& report)
{
    walk_hook_point(HookKind::tracepoint, "tracepoints", report, [&] {
        std::uint64_t start = hook_symbol(context, "__start___tracepoints_ptrs");
        std::uint64_t stop = hook_symbol(context, "__stop___tracepoints_ptrs");
        TracepointOffsets offsets = hook_offsets([&] { return context.layout.tracepoint_offsets(); });
        AddressSpace& kernel = context.kernel;
        // x86 keeps 32-bit offsets from each entry to its tracepoint
        // (CONFIG_HAVE_ARCH_PREL32_RELOCATIONS).
        std::uint64_t count = stop > start ? (stop - start) / 4 : 0;
        if (count > MAX_TRACEPOINTS) fail("{} tracepoints between the section's bounds: not a tracepoint table", count);
        std::vector<std::uint8_t> entries(count * 4);
        kernel.read(start, entries);
        for (std::uint64_t i = 0; i < count; ++i) {
            auto offset = static_cast<std::int32_t>(load_unaligned<std::uint32_t>(entries.data() + 4 * i));
            std::uint64_t tracepoint = start + 4 * i + static_cast<std::uint64_t>(std::int64_t{offset});
            if (pointer_size(kernel.mode()) == 4) tracepoint &= 0xffffffffU;
            std::uint64_t funcs = kernel.read_pointer(tracepoint + offsets.funcs);
            if (funcs == 0) continue; // no probe: the common case
            if (!is_kernel_address(kernel, funcs))
                fail("tracepoint {:#x}: funcs {:#x} is no kernel address", tracepoint, funcs);
            std::string name;
            for (std::size_t k = 0; k < MAX_PROBES; ++k) {
                std::uint64_t probe = kernel.read_pointer(funcs + k * offsets.func_size);
                if (probe == 0) break;
                if (context.owners.in_core(probe)) continue; // the kernel's own: perf, ftrace's events, BPF
                if (name.empty()) name = kernel.read_string(kernel.read_pointer(tracepoint + offsets.name), 128);
                report.hooks.push_back(
                    probe_hook(context, HookKind::tracepoint, name, tracepoint, probe, "tracepoint probe"));
            }
        }
        return count; // the places: the probes outside the kernel's text are rows
    });
}

} // namespace vmi
