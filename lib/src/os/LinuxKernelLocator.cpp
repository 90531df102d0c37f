#include "vmi/LinuxKernelLocator.hpp"

#include <array>
#include <cstring>
#include <vector>

#include "vmi/Diagnostics.hpp"
#include "vmi/Error.hpp"
#include "vmi/PageWalker.hpp"

namespace vmi {
namespace {

// The kernel's own top-level page table, by the names it has had.
const Symbol* top_table_symbol(const SymbolTable& symbols)
{
    for (const char* name : {"init_top_pgt", "init_level4_pgt", "swapper_pg_dir"})
        if (const Symbol* symbol = symbols.find(name)) return symbol;
    return nullptr;
}

bool banner_readable(PhysicalMemory& memory, const PageWalker& walker, std::uint64_t banner)
{
    static constexpr std::string_view expected = "Linux version ";
    Translation t = walker.translate(banner);
    if (!t.ok || !memory.is_ram(t.physical, expected.size())) return false;
    // The banner may straddle a page; check the part in this page only.
    std::size_t in_page = std::min<std::size_t>(expected.size(), 4096 - (banner & 0xfff));
    char text[expected.size()];
    memory.read(t.physical, {reinterpret_cast<std::uint8_t*>(text), in_page});
    return std::memcmp(text, expected.data(), in_page) == 0;
}

std::vector<PagingMode> candidate_modes(const Symbol& top_table)
{
    if (top_table.address > 0xffffffffULL) return {PagingMode::LA57, PagingMode::IA32e};
    return {PagingMode::PAE, PagingMode::Legacy32};
}

} // namespace

bool kernel_mapping_works(PhysicalMemory& memory, PagingMode mode, std::uint64_t dtb, const SymbolTable& symbols)
{
    PageWalker walker(memory, mode, dtb);
    if (const Symbol* banner = symbols.find("linux_banner")) return banner_readable(memory, walker, banner->address);
    if (const Symbol* top = top_table_symbol(symbols)) {
        Translation t = walker.translate(top->address);
        return t.ok && t.physical == dtb;
    }
    return false;
}

KernelLocation search_kernel_page_tables(PhysicalMemory& memory, const SymbolTable& symbols,
                                         std::optional<PagingMode> mode)
{
    const Symbol* top = top_table_symbol(symbols);
    if (!top)
        fail("cannot find the kernel's page tables: '{}' has none of init_top_pgt, swapper_pg_dir "
             "(set kpgd in the config)",
             symbols.origin());
    const Symbol* banner = symbols.find("linux_banner");
    std::vector<PagingMode> modes = mode ? std::vector<PagingMode>{*mode} : candidate_modes(*top);

    for (PagingMode candidate : modes) {
        // The top-level table maps its own virtual address to itself; no
        // other page does. A second symbol guards against a chance match.
        for (const PhysicalRange& range : memory.ranges()) {
            std::uint64_t first = (range.start + 0xfff) & ~std::uint64_t{0xfff};
            for (std::uint64_t page = first; page + 4096 <= range.end(); page += 4096) {
                PageWalker walker(memory, candidate, page);
                Translation t = walker.translate(top->address);
                if (!t.ok || t.physical != page) continue;
                if (banner && !banner_readable(memory, walker, banner->address)) continue;
                return {candidate, page,
                        fmt::format("found by searching RAM for the page table that maps {} ({:#x}) to itself",
                                    top->name, top->address)};
            }
        }
        diag::note("no {} page table maps {} to itself", name(candidate), top->name);
    }
    fail("cannot find the kernel's page tables in memory: no page maps {} ({:#x}) to itself{} "
         "(wrong System.map for this guest, or a KASLR slide not accounted for?)",
         top->name, top->address, mode ? fmt::format(" in {} mode", name(*mode)) : std::string());
}

} // namespace vmi
