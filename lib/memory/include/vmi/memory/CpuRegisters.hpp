#pragma once
// Control registers of one vCPU, as far as a memory source knows them.
#include <cstdint>
#include <optional>
#include <string>

#include "vmi/base/PagingMode.hpp"

namespace vmi {

struct CpuRegisters {
    std::uint64_t cr0 = 0;
    std::uint64_t cr3 = 0;
    std::uint64_t cr4 = 0;
    std::uint64_t efer = 0;
    // Where the values came from, for --verbose ("ELF QEMU CPU-state note").
    std::string source;
    // Some sources lack EFER (QEMU's ELF note); they derive LMA/LME from the
    // ELF machine type and say so here.
    std::string efer_source;

    static constexpr std::uint64_t CR0_PG = 1ULL << 31;
    static constexpr std::uint64_t CR4_PSE = 1ULL << 4;
    static constexpr std::uint64_t CR4_PAE = 1ULL << 5;
    static constexpr std::uint64_t CR4_LA57 = 1ULL << 12;
    static constexpr std::uint64_t EFER_LME = 1ULL << 8;
    static constexpr std::uint64_t EFER_LMA = 1ULL << 10;

    // The paging mode these registers select; nullopt when paging is off.
    std::optional<PagingMode> paging_mode() const;
    // The page-table root (directory table base, "dtb" throughout vmitools)
    // in CR3, with the flag/PCID bits cleared for `mode`.
    std::uint64_t dtb(PagingMode mode) const;
};

} // namespace vmi
