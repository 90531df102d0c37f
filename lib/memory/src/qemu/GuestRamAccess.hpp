#pragma once
// How the live backend reaches the bytes of guest RAM inside a QEMU process.
// Three ways, fastest first; QemuMemory picks the first that works:
//   mapped   - QEMU backs RAM with a shareable memfd or file: map it here too
//   process  - process_vm_readv/writev at the RAM block's host address
//   monitor  - the QEMU monitor's `xp` command (slow; read-only)
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "qemu/QemuMonitor.hpp"
#include "vmi/memory/MemorySource.hpp"
#include "vmi/memory/QemuLayout.hpp"

namespace vmi {

// A guest RAM region with the host address QEMU keeps it at (0 when unknown).
struct LiveRamRegion {
    QemuRamRegion region;
    std::uint64_t host_address = 0;
};

class GuestRamAccess {
public:
    virtual ~GuestRamAccess() = default;
    // `index` counts the regions the path was opened with; `offset` is
    // relative to the start of that region.
    virtual void read(std::size_t index, std::uint64_t offset, std::span<std::uint8_t> out) = 0;
    virtual void write(std::size_t index, std::uint64_t offset, std::span<const std::uint8_t> data) = 0;
    virtual bool can_write() const = 0;
    // Whether this path reaches region `index` (a mapping may cover only the
    // regions QEMU backs with a shared file).
    virtual bool covers(std::size_t /*index*/) const { return true; }
    // The parts of region `index` (`size` bytes) that may hold data, as
    // offsets into it: a memfd page the guest never touched is a hole.
    virtual std::vector<PhysicalRange> data_extents(std::size_t /*index*/, std::uint64_t size) const
    {
        return {{0, size}};
    }
    // Forget anything cached: the guest may have run.
    virtual void invalidate() {}
    // "memfd mapped from QEMU pid 1234 (memory-backend-memfd)".
    virtual std::string describe() const = 0;
};

// Each throws vmi::Error saying why the path cannot be used.
std::unique_ptr<GuestRamAccess> map_guest_ram(int qemu_pid, const std::vector<LiveRamRegion>& regions, bool writable);
std::unique_ptr<GuestRamAccess> process_guest_ram(int qemu_pid, const std::vector<LiveRamRegion>& regions);
std::unique_ptr<GuestRamAccess> monitor_guest_ram(QemuMonitor& monitor, const std::vector<LiveRamRegion>& regions);

} // namespace vmi
