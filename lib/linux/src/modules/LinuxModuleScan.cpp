// The module scan view (LinuxModuleViews.hpp, module_scan_view).
#include <algorithm>

#include <fmt/ranges.h>

#include "vmi/base/Error.hpp"
#include "vmi/base/UnalignedLoad.hpp"
#include "vmi/linux/KernelListWalk.hpp"
#include "vmi/linux/LinuxModuleViews.hpp"

namespace vmi {
namespace {

constexpr std::uint64_t PAGE = 4096;
constexpr std::uint64_t MAX_AREA = std::uint64_t{4} << 30; // more than any module area
constexpr std::uint32_t MAX_MODULE_STATE = 3;              // MODULE_STATE_UNFORMED

bool printable_name(const std::uint8_t* name, std::uint64_t length)
{
    if (name[0] == 0) return false;
    for (std::uint64_t i = 0; i < length; ++i) {
        if (name[i] == 0) return true;
        if (name[i] < 0x21 || name[i] > 0x7e) return false;
    }
    return false;
}

} // namespace

ObjectView module_scan_view(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t start, std::uint64_t end,
                            std::size_t max_modules)
{
    ObjectView view("scan");
    LayoutPart<ModuleScanOffsets> part = layout.module_scan_offsets();
    if (!part.offsets || start >= end || end - start > MAX_AREA) {
        return unavailable_view(view.id, part.offsets ? "no module area known for this paging mode"
                                                      : missing_keys_text(part.missing));
    }
    const ModuleScanOffsets& o = *part.offsets;
    const std::uint64_t word = pointer_size(kernel.mode());
    const std::uint64_t list = o.list;
    const std::uint64_t name = o.name;
    const std::uint64_t name_length = std::min<std::uint64_t>(o.name_length.value_or(56), 64);
    const std::uint64_t state = o.state;
    const std::uint64_t back = o.module_mkobj + o.kobject_mod;
    const std::uint64_t span = std::max({list + 2 * word, name + name_length, state + 4, back + word});
    // A struct module spans pages: read each mapped page with what follows it.
    std::vector<std::uint8_t> bytes;
    for (std::uint64_t page = start; page < end; page += PAGE) {
        Translation mapping = kernel.try_translate(page);
        if (!mapping.ok) {
            // A table entry that is not present leaves its whole range unmapped:
            // go on after it (most of the area, a page walk per page otherwise).
            if (mapping.unmapped_span > PAGE) {
                std::uint64_t next = (page | (mapping.unmapped_span - 1)) + 1;
                if (next <= page) break; // the top of the address space
                page = next - PAGE;
            }
            continue;
        }
        bytes.assign(PAGE + span, 0);
        try {
            kernel.read(page, {bytes.data(), PAGE});
        } catch (const Error&) {
            continue; // mapped to no guest RAM (i386's fixmap maps device memory)
        }
        std::uint64_t have = PAGE;
        try {
            kernel.read(page + PAGE, {bytes.data() + PAGE, span});
            have += span;
        } catch (const Error&) {
            // the next page is not mapped: candidates must fit in this one
        }
        for (std::uint64_t at = 0; at < PAGE && at + span <= have; at += 8) {
            const std::uint8_t* object = bytes.data() + at;
            if (load_unaligned<std::uint32_t>(object + state) > MAX_MODULE_STATE) continue;
            if (load_guest_word(object + back, static_cast<unsigned>(word)) != page + at)
                continue; // mkobj.mod points back
            if (!printable_name(object + name, name_length)) continue;
            if (!is_kernel_address(kernel, load_guest_word(object + list, static_cast<unsigned>(word)))) continue;
            if (view.objects.size() >= max_modules) return view;
            view.objects.insert(page + at);
        }
    }
    return view;
}

ObjectView module_area_scan_view(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t high_memory,
                                 std::size_t max_modules)
{
    if (pointer_size(kernel.mode()) == 8)
        return module_scan_view(kernel, layout, 0xffffffffc0000000ULL, 0xffffffffff000000ULL, max_modules);
    constexpr std::uint64_t VMALLOC_OFFSET = 8ULL << 20;
    constexpr std::uint64_t FIXADDR_TOP = 0xfffff000ULL;
    ObjectView none = unavailable_view("scan", "");
    if (high_memory == 0) {
        none.unavailable = "no symbol high_memory, where i386's vmalloc area (its modules') starts";
        return none;
    }
    std::uint64_t direct_map_end = 0;
    try {
        direct_map_end = kernel.read_pointer(high_memory);
    } catch (const Error& e) {
        none.unavailable = fmt::format("high_memory at {:#x} is unreadable: {}", high_memory, e.what());
        return none;
    }
    const std::uint64_t start = (direct_map_end + VMALLOC_OFFSET) & ~(VMALLOC_OFFSET - 1);
    if (!is_kernel_address(kernel, direct_map_end) || start >= FIXADDR_TOP) {
        none.unavailable =
            fmt::format("high_memory at {:#x} holds {:#x}, not the end of a direct map", high_memory, direct_map_end);
        return none;
    }
    return module_scan_view(kernel, layout, start, FIXADDR_TOP, max_modules);
}

} // namespace vmi
