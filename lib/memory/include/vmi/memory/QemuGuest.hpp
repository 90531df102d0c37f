#pragma once
// A running QEMU guest as a memory source: reached through QEMU's own QMP
// socket, or through libvirt by domain name (a "kvm" or "qemu" domain: the
// same QEMU process to us). RAM layout and registers come from QEMU's
// monitor; the bytes by the fastest path that works (see RamAccessPath).
#include <memory>
#include <string>
#include <vector>

#include "vmi/memory/MemorySource.hpp"

namespace vmi {

enum class RamAccessPath {
    automatic, // the fastest that works, region by region
    mapped,    // QEMU's shared memfd or file, mapped here
    process,   // process_vm_readv/writev on the QEMU process
    monitor,   // the monitor's `xp` (read-only, slow)
};
// "auto", "memfd" (mapped), "process", "monitor"; throws on anything else.
RamAccessPath parse_ram_access_path(const std::string& text);

inline constexpr const char* DEFAULT_LIBVIRT_URI = "qemu:///system";

// Throws vmi::Error naming the socket or domain when it cannot be reached:
// no such socket or domain, libvirt not reachable, domain not running.
std::unique_ptr<MemorySource> open_qmp_guest(const std::string& socket, RamAccessPath path, bool writable);
struct LibvirtDomainId {
    std::string name;
    std::string uuid; // empty when libvirt gives none
};
// The running domains at `uri` (empty: the default), sorted by name; throws
// vmi::Error when libvirt cannot be reached.
std::vector<LibvirtDomainId> running_libvirt_domains(const std::string& uri);

std::unique_ptr<MemorySource> open_libvirt_guest(const std::string& uri, const std::string& domain, RamAccessPath path,
                                                 bool writable);

} // namespace vmi
