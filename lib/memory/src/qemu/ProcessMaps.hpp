#pragma once
// A process's memory mappings, from /proc/PID/maps: where QEMU keeps guest RAM
// in its own address space, and which file (memfd) backs it.
#include <cstdint>
#include <string>
#include <vector>

namespace vmi {

struct HostMapping {
    std::uint64_t low = 0, high = 0, file_offset = 0, inode = 0;
    unsigned dev_major = 0, dev_minor = 0;
    bool readable = false, writable = false, shared = false;
    std::string path; // "" for anonymous memory, "/memfd:NAME (deleted)" for a memfd
    std::uint64_t size() const { return high - low; }
};

// Every mapping of process `pid`, in address order. Throws vmi::Error when
// its maps cannot be read (no such process, or no permission).
std::vector<HostMapping> read_process_maps(int pid);

} // namespace vmi
