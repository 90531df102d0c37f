#pragma once
// QEMU processes that no manager owns (started by scripts, CI runners,
// appliances), found by their pid or by a scan of /proc (under VMI_HOST_ROOT).
// A QEMU is read through the QMP socket its command line names, held only
// briefly (as Proxmox's: scripts may use it too), and its RAM through the
// process itself.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmi/memory/MemorySource.hpp"
#include "vmi/memory/QemuGuest.hpp"

namespace vmi {

struct QemuProcess {
    int pid = 0;
    std::string name;              // -name's guest name, else "qemu-PID"
    std::string qmp_socket;        // the QMP socket its command line names; empty: none
    std::string manager;           // "libvirt", "proxmox" or "xen" (a device model) when one owns it; empty: none
    std::vector<std::string> argv; // its command line
};

// The QMP socket a QEMU command line names: -qmp unix:PATH[,...] (or
// unix=PATH), or a -chardev socket,id=ID,path=PATH that a -mon
// chardev=ID,mode=control uses. nullopt when it names none.
std::optional<std::string> qmp_socket_on_command_line(const std::vector<std::string>& argv);
// The guest's name from -name (NAME or guest=NAME,...); empty when none.
std::string guest_name_on_command_line(const std::vector<std::string>& argv);

// The QEMU process `pid`; throws vmi::Error when there is none or it is no QEMU.
QemuProcess qemu_process(int pid);
// Every QEMU process on the host that no manager (libvirt, Proxmox, Xen) owns, by pid.
std::vector<QemuProcess> unmanaged_qemu_processes();

// The QEMU processes whose command line says `-uuid UUID` (libvirt gives each
// domain's QEMU its uuid so; case ignored), by pid: how a libvirt domain's
// QEMU is found when its daemon's pid file is out of sight (KubeVirt keeps it
// inside the virt-launcher pod).
std::vector<int> qemu_pids_with_uuid(std::string_view uuid);

// Through the QMP socket its command line names, held briefly. A QEMU with
// none: the RAM layout from its command line (QemuCommandLineRam) at the one
// mapping of that size in /proc/PID/maps, no registers, paused with SIGSTOP
// (StopSignalControl); the layout is checked against the guest's own memory
// map by the OS layer (MemorySource::inferred_layout). Throws vmi::Error when
// a layout cannot be found so, or for a QEMU that libvirt or Proxmox owns.
std::unique_ptr<MemorySource> open_qemu_process(const QemuProcess& qemu, RamAccessPath path, bool writable);

} // namespace vmi
