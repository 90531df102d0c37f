#pragma once
// A running QEMU's monitor, however we reach it: its QMP socket directly, or
// through libvirt (virDomainQemuMonitorCommand). The live backend asks it for
// the guest-physical memory layout, the vCPU registers, host addresses of
// guest RAM, and to stop and continue the guest.
#include <string>

#include <nlohmann/json.hpp>

namespace vmi {

class QemuMonitor {
public:
    virtual ~QemuMonitor() = default;

    // A QMP command; returns its "return" value or throws vmi::Error with
    // QEMU's error description.
    virtual nlohmann::json command(const std::string& name,
                                   const nlohmann::json& arguments = nlohmann::json::object()) = 0;
    // A human monitor (HMP) command line, e.g. "info registers".
    std::string human(const std::string& command_line);

    // The host pid of the QEMU process, when known (0 otherwise).
    virtual int qemu_pid() const = 0;
    // "QMP socket /run/x.sock" or "libvirt domain 'web01' (qemu:///system)".
    virtual std::string describe() const = 0;

    // stop / cont, through whatever keeps the manager's view consistent (a
    // libvirt monitor suspends and resumes the domain through libvirt).
    virtual void stop();
    virtual void cont();
    virtual bool running();

    // Every call above may come from two threads at once: the pause time
    // limit resumes the guest from a thread of its own.

    // For the per-guest pause lock when the QEMU process is not known: a name
    // of this guest that stays the same while it runs ("libvirt-UUID").
    virtual std::string guest_key() const = 0;
    // How a person resumes the guest by hand: "virsh -c URI resume NAME".
    virtual std::string resume_command() const = 0;
    // `cont` from a signal handler: async-signal-safe, best effort.
    virtual void cont_from_signal_handler() noexcept = 0;

    // For a monitor that other programs need too (Proxmox's QMP socket takes
    // one client at a time): hold() keeps it connected from now on (before a
    // pause, so that the pause guardian and a signal handler have the
    // connection), release() lets it go until the next command. Both do
    // nothing for a monitor that is always held.
    virtual void hold() {}
    virtual void release() {}

    // False for a QEMU with no monitor we can reach (StopSignalControl): it
    // gives no layout and no registers, and guest RAM is not readable through it.
    virtual bool answers_commands() const { return true; }
};

} // namespace vmi
