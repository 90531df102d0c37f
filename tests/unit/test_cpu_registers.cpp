// CpuRegisters: which paging mode CR0/CR4/EFER select, and the page-table
// root in CR3 without flag/PCID bits.
#include <doctest/doctest.h>

#include <cstdint>
#include <optional>

#include "vmi/memory/CpuRegisters.hpp"

using vmi::CpuRegisters;
using vmi::PagingMode;

namespace {

CpuRegisters regs(std::uint64_t cr0, std::uint64_t cr4, std::uint64_t efer, std::uint64_t cr3 = 0)
{
    CpuRegisters r;
    r.cr0 = cr0;
    r.cr3 = cr3;
    r.cr4 = cr4;
    r.efer = efer;
    return r;
}

constexpr std::uint64_t PG = CpuRegisters::CR0_PG;
constexpr std::uint64_t PE = 1; // CR0.PE
constexpr std::uint64_t PSE = CpuRegisters::CR4_PSE;
constexpr std::uint64_t PAE = CpuRegisters::CR4_PAE;
constexpr std::uint64_t LA57 = CpuRegisters::CR4_LA57;
constexpr std::uint64_t LME = CpuRegisters::EFER_LME;
constexpr std::uint64_t LMA = CpuRegisters::EFER_LMA;

} // namespace

TEST_CASE("cpu registers: the architectural bit positions")
{
    CHECK(CpuRegisters::CR0_PG == 0x80000000ULL);
    CHECK(CpuRegisters::CR4_PSE == 0x10ULL);
    CHECK(CpuRegisters::CR4_PAE == 0x20ULL);
    CHECK(CpuRegisters::CR4_LA57 == 0x1000ULL);
    CHECK(CpuRegisters::EFER_LME == 0x100ULL);
    CHECK(CpuRegisters::EFER_LMA == 0x400ULL);
}

TEST_CASE("cpu registers: paging mode from CR0.PG, CR4.PAE, EFER.LMA, CR4.LA57")
{
    // Paging off: no mode, whatever else is set.
    CHECK_FALSE(regs(0, 0, 0).paging_mode().has_value());
    CHECK_FALSE(regs(PE, PAE | LA57, LME | LMA).paging_mode().has_value());
    CHECK_FALSE(regs(0x7fffffffULL, ~0ULL, ~0ULL).paging_mode().has_value());

    CHECK(regs(PG | PE, 0, 0).paging_mode() == PagingMode::Legacy32);
    CHECK(regs(PG | PE, PSE, 0).paging_mode() == PagingMode::Legacy32);
    CHECK(regs(PG | PE, PAE, 0).paging_mode() == PagingMode::PAE);
    CHECK(regs(PG | PE, PAE | PSE, LME).paging_mode() == PagingMode::PAE); // LME without LMA: not active yet
    CHECK(regs(PG | PE, PAE | LA57, 0).paging_mode() == PagingMode::PAE);  // LA57 only matters in long mode
    CHECK(regs(PG | PE, PAE, LME | LMA).paging_mode() == PagingMode::IA32e);
    CHECK(regs(PG | PE, PAE, LMA).paging_mode() == PagingMode::IA32e);
    CHECK(regs(PG | PE, PAE | LA57, LME | LMA).paging_mode() == PagingMode::LA57);

    // Typical values read from real guests.
    CHECK(regs(0x80050033, 0x3506f0, 0xd01).paging_mode() == PagingMode::IA32e);
    CHECK(regs(0x80050033, 0x3516f0, 0xd01).paging_mode() == PagingMode::LA57);
    CHECK(regs(0x80050033, 0x6f0, 0).paging_mode() == PagingMode::PAE);
    CHECK(regs(0x80050033, 0x690, 0).paging_mode() == PagingMode::Legacy32);
}

TEST_CASE("cpu registers: page-table root strips flag and PCID bits per mode")
{
    // 32-bit paging: bits 12..31.
    CHECK(regs(0, 0, 0, 0x01234fffULL).dtb(PagingMode::Legacy32) == 0x01234000ULL);
    CHECK(regs(0, 0, 0, 0xffffffff00abc018ULL).dtb(PagingMode::Legacy32) == 0x00abc000ULL);
    // PAE: 32-byte aligned, bits 5..31.
    CHECK(regs(0, 0, 0, 0x01234ff8ULL).dtb(PagingMode::PAE) == 0x01234fe0ULL);
    CHECK(regs(0, 0, 0, 0x00abc020ULL).dtb(PagingMode::PAE) == 0x00abc020ULL);
    CHECK(regs(0, 0, 0, 0x1000000ab0ULL).dtb(PagingMode::PAE) == 0xaa0ULL);
    // 4/5-level: bits 12..51; PCID in 0..11 and "no flush" bit 63 go.
    CHECK(regs(0, 0, 0, 0x000000010a2e4001ULL).dtb(PagingMode::IA32e) == 0x000000010a2e4000ULL);
    CHECK(regs(0, 0, 0, 0x800000000a2e5801ULL).dtb(PagingMode::IA32e) == 0x000000000a2e5000ULL);
    CHECK(regs(0, 0, 0, 0xfff0000000000fffULL).dtb(PagingMode::LA57) == 0);
    CHECK(regs(0, 0, 0, 0x000fffffffffffffULL).dtb(PagingMode::LA57) == 0x000ffffffffff000ULL);
}
