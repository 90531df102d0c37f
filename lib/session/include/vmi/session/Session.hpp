#pragma once
// The guest a tool works on: the config entry that names it (if any) and its
// memory source, built from plain settings. Knows no OS and no command line:
// the tools turn their flags into SessionSettings, and the OS layer works on
// the memory source this opens.
#include <memory>
#include <optional>
#include <string>

#include "vmi/config/ConfigFile.hpp"
#include "vmi/memory/MemorySource.hpp"
#include "vmi/memory/QemuGuestAgent.hpp"

namespace vmi {

struct SessionSettings {
    std::string vm;           // a config entry's name, or a libvirt or Xen domain's
    std::string config_path;  // empty: the first file of the search path
    ConfigKeySet config_keys; // every key the tool's layers read, for the parser's warnings
    // The source; each overrides the config entry's key of the same name.
    std::string image;            // a dump file
    std::string qmp;              // a running QEMU's QMP socket
    std::string backend;          // kvm (libvirt), xen, qmp, file
    std::string domid;            // a Xen domain's id (backend xen), as given
    std::string qemu_pid;         // a QEMU process no manager owns (backend qemu), as given
    std::string uri;              // libvirt connection URI
    std::string access;           // auto, memfd, process, monitor (live guests)
    bool writable_image = false;  // open a dump file for writing
    bool writes = false;          // the tool writes guest memory: live guests open read-write
    bool memory_optional = false; // neither VM nor image is fine (symbols only)
};

// The keys Session reads from a config entry: image, qmp, backend, uri, access, domid.
const ConfigKeySet& session_config_keys();

class Session {
public:
    static Session open(const SessionSettings& settings);

    // Whether settings.vm names an entry of the config file in use (the given
    // one, or the first file of the search path). False when there is none.
    static bool config_names_entry(const SessionSettings& settings);

    bool has_memory() const { return memory_ != nullptr; }
    MemorySource& memory();
    const ConfigEntry* config_entry() const { return entry_ ? &*entry_ : nullptr; }
    // Where the guest's qemu-guest-agent is reached, when the guest is a VM
    // whose manager wires one up: a libvirt domain's agent channel (libvirt,
    // KubeVirt), a Proxmox VM's .qga socket. nullopt for dumps, bare QEMU,
    // QMP sockets and Xen.
    const std::optional<GuestAgentEndpoint>& guest_agent() const { return guest_agent_; }

private:
    Session() = default;

    std::optional<ConfigEntry> entry_;
    std::unique_ptr<MemorySource> memory_;
    std::optional<GuestAgentEndpoint> guest_agent_;
};

} // namespace vmi
