#include "vmi/linux/LinuxKernelLocator.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/paging/PageWalker.hpp"

namespace vmi {
namespace {

constexpr std::string_view BANNER_PREFIX = "Linux version ";
constexpr std::size_t MAX_BANNER_CANDIDATES = 64;
// The kernel is loaded at a physical address aligned to CONFIG_PHYSICAL_ALIGN
// (2 MiB on x86-64 and Debian's i386), and its 64-bit virtual image slides in
// 2 MiB steps: an image keeps its offset within 2 MiB wherever it lies.
constexpr std::uint64_t IMAGE_ALIGN = 0x200000;
constexpr std::uint64_t KERNEL_IMAGE_WINDOW = 0xffffffff80000000ULL; // __START_KERNEL_map, 1 GiB
constexpr std::uint64_t KERNEL_IMAGE_WINDOW_SIZE = 1ULL << 30;
// The PAGE_OFFSETs i386's VMSPLIT options allow; the kernel lives in the direct map there.
constexpr std::uint64_t I386_PAGE_OFFSETS[] = {0xc0000000ULL, 0xb0000000ULL, 0x80000000ULL, 0x78000000ULL,
                                               0x40000000ULL};

// The kernel's own top-level page table, by the names it has had.
const Symbol* top_table_symbol(const SymbolTable& symbols)
{
    for (const char* name : {"init_top_pgt", "init_level4_pgt", "swapper_pg_dir"})
        if (const Symbol* symbol = symbols.find(name)) return symbol;
    return nullptr;
}

// The start of the kernel image, against which the image's physical layout is reckoned.
const Symbol* image_start_symbol(const SymbolTable& symbols)
{
    for (const char* name : {"_text", "_stext", "startup_64", "startup_32"})
        if (const Symbol* symbol = symbols.find(name)) return symbol;
    return nullptr;
}

std::vector<PagingMode> candidate_modes(std::uint64_t kernel_address, const KernelHints& hints)
{
    if (hints.mode) return {*hints.mode};
    if (kernel_address > 0xffffffffULL) return {PagingMode::LA57, PagingMode::IA32e};
    return {PagingMode::PAE, PagingMode::Legacy32};
}

bool translates_to(MemorySource& memory, PagingMode mode, std::uint64_t dtb, std::uint64_t va, std::uint64_t pa)
{
    Translation t = PageWalker(memory, mode, dtb).translate(va);
    return t.ok && t.physical == pa;
}

bool banner_text_at(MemorySource& memory, std::uint64_t pa)
{
    char text[BANNER_PREFIX.size()];
    if (!memory.is_ram(pa, sizeof text)) return false;
    memory.read(pa, {reinterpret_cast<std::uint8_t*>(text), sizeof text});
    return std::memcmp(text, BANNER_PREFIX.data(), sizeof text) == 0;
}

std::string describe_slide(std::int64_t slide)
{
    if (slide == 0) return "no KASLR slide";
    return fmt::format("KASLR slide {:#x}", static_cast<std::uint64_t>(slide));
}

std::vector<std::uint64_t> hinted_dtbs(const KernelHints& hints, PagingMode mode)
{
    std::vector<std::uint64_t> dtbs{*hints.dtb};
    // Under KPTI a CR3 caught in user mode points at the user half of an
    // 8 KiB PGD pair; the kernel's half is the page below.
    if (hints.dtb_is_cr3 && is_64bit(mode) && (*hints.dtb & 0x1000)) dtbs.push_back(*hints.dtb & ~0x1000ULL);
    return dtbs;
}

// Runtime addresses the kernel image's start (symbol `text`) can have: any
// 2 MiB step of the 1 GiB image window on 64-bit kernels; on 32-bit ones a
// physical load address plus a PAGE_OFFSET (`physical_text` is that load
// address, or nullopt for all of them in RAM).
std::vector<std::uint64_t> runtime_text_candidates(MemorySource& memory, PagingMode mode, std::uint64_t text,
                                                   std::optional<std::uint64_t> physical_text)
{
    std::vector<std::uint64_t> out;
    if (is_64bit(mode)) {
        // A System.map of runtime addresses first: no slide is the common case.
        out.push_back(text);
        for (std::uint64_t va = KERNEL_IMAGE_WINDOW; va - KERNEL_IMAGE_WINDOW < KERNEL_IMAGE_WINDOW_SIZE;
             va += IMAGE_ALIGN)
            out.push_back(va | (text & (IMAGE_ALIGN - 1)));
        return out;
    }
    out.push_back(text);
    std::vector<std::uint64_t> physical;
    if (physical_text) {
        physical.push_back(*physical_text);
    } else {
        for (const PhysicalRange& range : memory.ranges())
            for (std::uint64_t pa = (range.start + IMAGE_ALIGN - 1) & ~(IMAGE_ALIGN - 1); pa < range.end();
                 pa += IMAGE_ALIGN)
                physical.push_back(pa | (text & (IMAGE_ALIGN - 1)));
    }
    for (std::uint64_t page_offset : I386_PAGE_OFFSETS)
        for (std::uint64_t pa : physical) out.push_back((pa + page_offset) & 0xffffffffULL);
    return out;
}

// The main anchor: at slide `slide`, the table at physical `dtb` maps the
// top-level table's own symbol address onto `dtb` itself.
bool table_maps_itself(MemorySource& memory, PagingMode mode, std::uint64_t dtb, const Symbol& top, std::int64_t slide)
{
    return translates_to(memory, mode, dtb, top.address + static_cast<std::uint64_t>(slide), dtb);
}

// Decides on a candidate whose top-level table maps itself: evaluates the
// content anchors, and takes a 32-bit candidate only if one holds (see the
// header). Fills in the anchors of an accepted candidate.
using Acceptor = std::function<bool(KernelLocation&)>;

std::optional<KernelLocation> candidate(PagingMode mode, std::uint64_t dtb, std::int64_t slide, std::string how,
                                        const Symbol& top, const Acceptor& accept)
{
    KernelLocation location{mode, dtb, slide, std::move(how), {}};
    location.anchors.push_back({"page tables", true, fmt::format("{} at {:#x} maps its own address", top.name, dtb)});
    if (!accept(location)) return std::nullopt;
    return location;
}

// With a page-table root from the registers or the config: the slide is the
// one under which that root maps the kernel's top-level table onto a page
// that maps itself.
std::optional<KernelLocation> locate_through_hint(MemorySource& memory, const Symbol& top, const Symbol& text,
                                                  const std::vector<PagingMode>& modes, const KernelHints& hints,
                                                  const Acceptor& accept)
{
    for (PagingMode mode : modes)
        for (std::uint64_t hinted : hinted_dtbs(hints, mode)) {
            PageWalker walker(memory, mode, hinted);
            for (std::uint64_t runtime_text : runtime_text_candidates(memory, mode, text.address, std::nullopt)) {
                auto slide = static_cast<std::int64_t>(runtime_text - text.address);
                Translation t = walker.translate(top.address + static_cast<std::uint64_t>(slide));
                if (!t.ok || !table_maps_itself(memory, mode, t.physical, top, slide)) continue;
                std::string via = hinted != *hints.dtb ? " (kernel half of a KPTI user PGD)" : "";
                if (auto location = candidate(
                        mode, t.physical, slide,
                        fmt::format("{} through {}{}; {}", top.name, hints.dtb_source, via, describe_slide(slide)), top,
                        accept))
                    return location;
            }
        }
    return std::nullopt;
}

// Memory alone: the image is physically contiguous, so the top-level table
// lies at a fixed distance from the image's start, which is 2 MiB-aligned.
// Each such place is tried with each slide the paging mode allows.
std::optional<KernelLocation> locate_in_memory(MemorySource& memory, const Symbol& top, const Symbol& text,
                                               const std::vector<PagingMode>& modes, const Acceptor& accept)
{
    std::uint64_t distance = top.address - text.address;
    for (PagingMode mode : modes)
        for (const PhysicalRange& range : memory.ranges())
            for (std::uint64_t pa_text = (range.start + IMAGE_ALIGN - 1) & ~(IMAGE_ALIGN - 1); pa_text < range.end();
                 pa_text += IMAGE_ALIGN) {
                std::uint64_t physical_text = pa_text | (text.address & (IMAGE_ALIGN - 1));
                std::uint64_t dtb = physical_text + distance;
                if ((dtb & 0x1f) || !memory.is_ram(dtb, 32)) continue;
                for (std::uint64_t runtime_text : runtime_text_candidates(memory, mode, text.address, physical_text)) {
                    auto slide = static_cast<std::int64_t>(runtime_text - text.address);
                    if (!table_maps_itself(memory, mode, dtb, top, slide)) continue;
                    if (auto location = candidate(
                            mode, dtb, slide,
                            fmt::format("found in memory: {} maps itself; {}", top.name, describe_slide(slide)), top,
                            accept))
                        return location;
                }
            }
    return std::nullopt;
}

// Physical addresses of "Linux version " where linux_banner can be, whatever
// the slide: a few hundred probes at its offset within 2 MiB, or a scan of
// all RAM for kernels aligned more finely.
std::vector<std::uint64_t> find_banner_copies(MemorySource& memory, std::uint64_t banner)
{
    std::vector<std::uint64_t> copies;
    for (const PhysicalRange& range : memory.ranges()) {
        std::uint64_t first = (range.start & ~(IMAGE_ALIGN - 1)) | (banner & (IMAGE_ALIGN - 1));
        for (std::uint64_t pa = first; pa < range.end() && copies.size() < MAX_BANNER_CANDIDATES; pa += IMAGE_ALIGN)
            if (pa >= range.start && banner_text_at(memory, pa)) copies.push_back(pa);
    }
    if (!copies.empty()) return copies;

    constexpr std::size_t CHUNK = 4 << 20;
    std::vector<std::uint8_t> buffer(CHUNK + BANNER_PREFIX.size());
    for (const PhysicalRange& range : memory.ranges()) {
        for (std::uint64_t at = range.start; at < range.end(); at += CHUNK) {
            auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), range.end() - at));
            memory.read(at, {buffer.data(), n});
            const std::uint8_t* data = buffer.data();
            const std::uint8_t* end = data + std::min(n, CHUNK + BANNER_PREFIX.size() - 1);
            for (const std::uint8_t* hit = data; (hit = static_cast<const std::uint8_t*>(::memmem(
                                                      hit, end - hit, BANNER_PREFIX.data(), BANNER_PREFIX.size())));
                 ++hit) {
                std::uint64_t pa = at + (hit - data);
                if ((pa & 0xfff) == (banner & 0xfff)) copies.push_back(pa);
                if (copies.size() >= MAX_BANNER_CANDIDATES) return copies;
            }
        }
    }
    return copies;
}

// The banner alone, for symbol tables that name no top-level table: a hinted
// root that maps linux_banner onto a "Linux version" string.
std::optional<KernelLocation> locate_by_banner(MemorySource& memory, const Symbol& banner,
                                               const std::vector<PagingMode>& modes, const KernelHints& hints,
                                               const Acceptor& accept)
{
    if (!hints.dtb) return std::nullopt;
    std::vector<std::uint64_t> copies = find_banner_copies(memory, banner.address);
    for (std::uint64_t pa : copies)
        for (PagingMode mode : modes)
            for (std::uint64_t dtb : hinted_dtbs(hints, mode))
                for (std::uint64_t runtime : runtime_text_candidates(memory, mode, banner.address, pa)) {
                    auto slide = static_cast<std::int64_t>(runtime - banner.address);
                    if (!translates_to(memory, mode, dtb, banner.address + static_cast<std::uint64_t>(slide), pa))
                        continue;
                    KernelLocation location{mode,
                                            dtb,
                                            slide,
                                            fmt::format("{}; {} (linux_banner found its 'Linux version' string)",
                                                        hints.dtb_source, describe_slide(slide)),
                                            {}};
                    location.anchors.push_back({"page tables", false, "the symbols name no top-level page table"});
                    if (accept(location)) return location;
                }
    return std::nullopt;
}

} // namespace

std::optional<std::uint64_t> kernel_physical(MemorySource& memory, const KernelLocation& location,
                                             std::uint64_t virtual_address)
{
    Translation t = PageWalker(memory, location.mode, location.dtb).translate(virtual_address);
    if (!t.ok) return std::nullopt;
    return t.physical;
}

KernelLocation locate_linux_kernel(MemorySource& memory, const SymbolTable& symbols, const KernelHints& hints,
                                   const std::vector<ContentAnchor>& anchors)
{
    const Symbol* banner = symbols.find("linux_banner");
    const Symbol* top = top_table_symbol(symbols);
    const Symbol* text = image_start_symbol(symbols);
    if (!top && !banner)
        fail("'{}' has neither init_top_pgt/swapper_pg_dir nor linux_banner: cannot find the kernel "
             "(is it a Linux System.map?)",
             symbols.origin());
    std::vector<PagingMode> modes = candidate_modes((top ? top : banner)->address, hints);

    // The banner is one content anchor; the caller's follow.
    std::vector<ContentAnchor> content;
    if (banner)
        content.push_back(
            {"banner", [banner](MemorySource& mem, const KernelLocation& at) -> std::optional<std::string> {
                 std::optional<std::uint64_t> pa =
                     kernel_physical(mem, at, banner->address + static_cast<std::uint64_t>(at.slide));
                 if (!pa || !banner_text_at(mem, *pa)) return std::nullopt;
                 return "linux_banner reads 'Linux version'";
             }});
    content.insert(content.end(), anchors.begin(), anchors.end());
    auto accept = [&](KernelLocation& location) {
        bool any = false;
        for (const ContentAnchor& anchor : content) {
            std::optional<std::string> detail = anchor.holds(memory, location);
            any = any || detail;
            location.anchors.push_back({anchor.name, detail.has_value(), detail.value_or("does not hold")});
        }
        // The page tables decide on 64-bit kernels; a 32-bit candidate needs a content anchor too.
        if (is_64bit(location.mode) && location.anchors.front().held) return true;
        if (any) return true;
        location.anchors.resize(1);
        return false;
    };

    std::optional<KernelLocation> location;
    if (top && text) {
        if (hints.dtb) location = locate_through_hint(memory, *top, *text, modes, hints, accept);
        if (!location) location = locate_in_memory(memory, *top, *text, modes, accept);
    }
    if (!location && banner) location = locate_by_banner(memory, *banner, modes, hints, accept);
    if (!location) {
        if (top)
            fail("cannot find the kernel in guest memory: no page table maps {} ({:#x}) onto itself{} where {} "
                 "(wrong symbols for this guest?)",
                 top->name, top->address,
                 hints.dtb ? fmt::format(" through {:#x} or at any place in RAM", *hints.dtb) : "",
                 is_64bit(modes.front()) ? "the kernel image can be" : "the banner or init_task confirm it");
        fail("cannot find the kernel in guest memory: no page table maps linux_banner ({:#x}) onto a 'Linux version' "
             "string{} (wrong System.map for this guest?)",
             banner->address, hints.dtb ? fmt::format(" through {:#x}", *hints.dtb) : std::string());
    }
    return *location;
}

} // namespace vmi
