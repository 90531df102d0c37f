#include "vmi/memory/CpuRegisters.hpp"

namespace vmi {

std::optional<PagingMode> CpuRegisters::paging_mode() const
{
    if (!(cr0 & CR0_PG)) return std::nullopt;
    if (!(cr4 & CR4_PAE)) return PagingMode::Legacy32;
    if (efer & EFER_LMA) return (cr4 & CR4_LA57) ? PagingMode::LA57 : PagingMode::IA32e;
    return PagingMode::PAE;
}

std::uint64_t CpuRegisters::dtb(PagingMode mode) const
{
    switch (mode) {
    case PagingMode::Legacy32: return cr3 & 0xfffff000ULL;
    case PagingMode::PAE: return cr3 & 0xffffffe0ULL;
    case PagingMode::IA32e:
    case PagingMode::LA57:
        // Bits 12..51; the low 12 bits are PCID/flags, bit 63 is "no flush".
        return cr3 & 0x000ffffffffff000ULL;
    }
    return cr3;
}

} // namespace vmi
