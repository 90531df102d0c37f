#include "vmi/LinuxKernelLocator.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "vmi/Diagnostics.hpp"
#include "vmi/Error.hpp"
#include "vmi/PageWalker.hpp"

namespace vmi {
namespace {

constexpr std::string_view BANNER_PREFIX = "Linux version ";
constexpr std::size_t MAX_BANNER_CANDIDATES = 64;

// The kernel's own top-level page table, by the names it has had.
const Symbol* top_table_symbol(const SymbolTable& symbols)
{
    for (const char* name : {"init_top_pgt", "init_level4_pgt", "swapper_pg_dir"})
        if (const Symbol* symbol = symbols.find(name)) return symbol;
    return nullptr;
}

std::vector<PagingMode> candidate_modes(std::uint64_t kernel_address, const KernelHints& hints)
{
    if (hints.mode) return {*hints.mode};
    if (kernel_address > 0xffffffffULL) return {PagingMode::LA57, PagingMode::IA32e};
    return {PagingMode::PAE, PagingMode::Legacy32};
}

bool translates_to(PhysicalMemory& memory, PagingMode mode, std::uint64_t dtb, std::uint64_t va, std::uint64_t pa)
{
    Translation t = PageWalker(memory, mode, dtb).translate(va);
    return t.ok && t.physical == pa;
}

bool banner_text_at(PhysicalMemory& memory, std::uint64_t pa)
{
    char text[BANNER_PREFIX.size()];
    if (!memory.is_ram(pa, sizeof text)) return false;
    memory.read(pa, {reinterpret_cast<std::uint8_t*>(text), sizeof text});
    return std::memcmp(text, BANNER_PREFIX.data(), sizeof text) == 0;
}

// Physical addresses of "Linux version " where linux_banner can be, whatever
// the slide. The kernel is loaded at a physical address aligned to
// CONFIG_PHYSICAL_ALIGN (2 MiB or more on x86-64 and on Debian's i386), as is
// its link address, so the banner keeps its offset within 2 MiB: that is a
// few hundred probes. Kernels aligned more finely get a scan of all RAM.
std::vector<std::uint64_t> find_banner_copies(PhysicalMemory& memory, std::uint64_t banner)
{
    std::vector<std::uint64_t> found;
    constexpr std::uint64_t ALIGN = 0x200000;
    for (const PhysicalRange& range : memory.ranges()) {
        std::uint64_t first = (range.start & ~(ALIGN - 1)) | (banner & (ALIGN - 1));
        for (std::uint64_t pa = first; pa < range.end() && found.size() < MAX_BANNER_CANDIDATES; pa += ALIGN)
            if (pa >= range.start && banner_text_at(memory, pa)) found.push_back(pa);
    }
    if (!found.empty()) return found;

    constexpr std::size_t CHUNK = 4 << 20;
    std::vector<std::uint8_t> buffer(CHUNK + BANNER_PREFIX.size());
    for (const PhysicalRange& range : memory.ranges()) {
        for (std::uint64_t at = range.start; at < range.end(); at += CHUNK) {
            std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), range.end() - at));
            memory.read(at, {buffer.data(), n});
            const std::uint8_t* data = buffer.data();
            const std::uint8_t* end = data + std::min(n, CHUNK + BANNER_PREFIX.size() - 1);
            for (const std::uint8_t* hit = data;
                 (hit = static_cast<const std::uint8_t*>(::memmem(hit, end - hit, BANNER_PREFIX.data(), BANNER_PREFIX.size())));
                 ++hit) {
                std::uint64_t pa = at + (hit - data);
                if ((pa & 0xfff) == (banner & 0xfff)) found.push_back(pa);
                if (found.size() >= MAX_BANNER_CANDIDATES) return found;
            }
        }
    }
    return found;
}

// Slides worth trying for a banner found at physical `pa`. 64-bit kernels
// slide their virtual image in 2 MiB steps within the 1 GiB kernel-image
// window; 32-bit kernels live in the direct map, virtual = physical +
// PAGE_OFFSET, for each PAGE_OFFSET the VMSPLIT options allow.
std::vector<std::int64_t> candidate_slides(PagingMode mode, std::uint64_t pa, std::uint64_t banner)
{
    std::vector<std::int64_t> slides{0};
    if (is_64bit(mode)) {
        constexpr std::uint64_t window = 0xffffffff80000000ULL;
        for (std::uint64_t va = window; va >= window; va += 0x200000) {
            std::uint64_t runtime = va | (banner & 0x1fffff);
            slides.push_back(static_cast<std::int64_t>(runtime - banner));
        }
    } else {
        for (std::uint64_t page_offset : {0xc0000000ULL, 0xb0000000ULL, 0x80000000ULL, 0x78000000ULL, 0x40000000ULL}) {
            std::uint64_t runtime = (pa + page_offset) & 0xffffffffULL;
            slides.push_back(static_cast<std::int64_t>(runtime - banner));
        }
    }
    return slides;
}

bool banner_readable(PhysicalMemory& memory, PagingMode mode, std::uint64_t dtb, std::uint64_t banner)
{
    Translation t = PageWalker(memory, mode, dtb).translate(banner);
    return t.ok && banner_text_at(memory, t.physical);
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

// The table maps its own virtual address to itself; no other page does.
std::optional<KernelLocation> search_self_mapping(PhysicalMemory& memory, const Symbol& top,
                                                  const std::vector<PagingMode>& modes)
{
    for (PagingMode mode : modes)
        for (const PhysicalRange& range : memory.ranges())
            for (std::uint64_t page = (range.start + 0xfff) & ~0xfffULL; page + 4096 <= range.end(); page += 4096)
                if (translates_to(memory, mode, page, top.address, page))
                    return KernelLocation{mode, page, 0,
                                          fmt::format("found by searching RAM for the page table that maps {} to itself",
                                                      top.name)};
    return std::nullopt;
}

} // namespace

KernelLocation locate_linux_kernel(PhysicalMemory& memory, const SymbolTable& symbols, const KernelHints& hints)
{
    const Symbol* banner = symbols.find("linux_banner");
    const Symbol* top = top_table_symbol(symbols);
    if (!banner && !top)
        fail("'{}' has neither linux_banner nor swapper_pg_dir/init_top_pgt: cannot find the kernel "
             "(is it a Linux System.map?)",
             symbols.origin());

    std::vector<PagingMode> modes = candidate_modes((banner ? banner : top)->address, hints);
    if (!banner) {
        // Without a banner symbol only slide 0 can be checked.
        if (hints.dtb)
            for (PagingMode mode : modes)
                for (std::uint64_t dtb : hinted_dtbs(hints, mode))
                    if (translates_to(memory, mode, dtb, top->address, dtb))
                        return {mode, dtb, 0, hints.dtb_source};
        if (auto found = search_self_mapping(memory, *top, modes)) return *found;
        fail("cannot find the kernel's page tables: no page maps {} ({:#x}) to itself", top->name, top->address);
    }

    // The common case first: the hinted tables map the banner where the
    // symbols say, so there is no slide and no need to search.
    if (hints.dtb)
        for (PagingMode mode : modes)
            for (std::uint64_t dtb : hinted_dtbs(hints, mode))
                if (banner_readable(memory, mode, dtb, banner->address))
                    return {mode, dtb, 0,
                            fmt::format("{}{}; no KASLR slide", hints.dtb_source,
                                        dtb != *hints.dtb ? " (kernel half of a KPTI user PGD)" : "")};

    // Every copy of the banner text at the right page offset is a candidate;
    // a slide fits when the page tables map linux_banner + slide onto it.
    std::vector<std::uint64_t> copies = find_banner_copies(memory, banner->address);
    diag::note("{} candidate{} for linux_banner in RAM", copies.size(), copies.size() == 1 ? "" : "s");
    for (std::uint64_t pa : copies) {
        for (PagingMode mode : modes) {
            std::vector<std::int64_t> slides = candidate_slides(mode, pa, banner->address);
            if (hints.dtb) {
                for (std::uint64_t dtb : hinted_dtbs(hints, mode))
                    for (std::int64_t slide : slides)
                        if (translates_to(memory, mode, dtb, banner->address + slide, pa))
                            return {mode, dtb, slide,
                                    fmt::format("{}{}; {}", hints.dtb_source,
                                                dtb != *hints.dtb ? " (kernel half of a KPTI user PGD)" : "",
                                                describe_slide(slide))};
                continue;
            }
            if (!top) continue;
            // The image is linear in physical memory, so its page table sits
            // at a fixed distance from the banner.
            std::uint64_t table = pa + (top->address - banner->address);
            if ((table & 0xfff) || !memory.is_ram(table, 4096)) continue;
            for (std::int64_t slide : slides)
                if (translates_to(memory, mode, table, top->address + slide, table) &&
                    translates_to(memory, mode, table, banner->address + slide, pa))
                    return {mode, table, slide,
                            fmt::format("found in memory: {} maps itself and the banner; {}", top->name,
                                        describe_slide(slide))};
        }
    }
    fail("cannot find the kernel in guest memory: no page table maps linux_banner ({:#x}) onto a 'Linux version' "
         "string{} (wrong System.map for this guest?)",
         banner->address, hints.dtb ? fmt::format(" through {:#x}", *hints.dtb) : std::string());
}

} // namespace vmi
