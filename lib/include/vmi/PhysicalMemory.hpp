#pragma once
// The backend interface (the paper's driver interface, Figure 5): everything a
// tool needs from a guest's memory source, whether a dump file or a live
// hypervisor. One implementation per source under src/backend/.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmi/CpuRegisters.hpp"

namespace vmi {

// A run of guest-physical addresses backed by RAM: [start, start + size).
struct PhysicalRange {
    std::uint64_t start = 0;
    std::uint64_t size = 0;
    std::uint64_t end() const { return start + size; }
    bool contains(std::uint64_t address) const { return address >= start && address - start < size; }
};

class PhysicalMemory {
public:
    virtual ~PhysicalMemory() = default;

    // Reads/writes exactly out.size() bytes at guest-physical `address`, or
    // throws vmi::Error naming the first address that is not RAM.
    virtual void read(std::uint64_t address, std::span<std::uint8_t> out) = 0;
    virtual void write(std::uint64_t address, std::span<const std::uint8_t> data) = 0;

    // Guest RAM, sorted by address, without overlaps. Holes are real.
    virtual const std::vector<PhysicalRange>& ranges() const = 0;

    // Registers of vCPU 0 where the source has them.
    virtual std::optional<CpuRegisters> registers() const = 0;

    // Stop/restart the guest's vCPUs. pause() returns whether this call
    // stopped a running guest (false for sources that do not run, and for a
    // guest that was paused already, which must then be left paused).
    virtual bool pause() { return false; }
    virtual void resume() {}

    virtual bool writable() const = 0;
    // "ELF core 'x.elf' (3 RAM ranges, 512 MiB)", for --verbose.
    virtual std::string describe() const = 0;

    // Convenience: is [address, address+size) entirely RAM?
    bool is_ram(std::uint64_t address, std::uint64_t size = 1) const;
};

} // namespace vmi
