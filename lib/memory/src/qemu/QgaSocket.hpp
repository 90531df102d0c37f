#pragma once
// A guest agent reached through the host side of its virtio-serial port: the
// UNIX socket of QEMU's chardev (Proxmox's /var/run/qemu-server/VMID.qga),
// spoken to with QGA's own protocol, no libvirt in between.
//
// QEMU serves such a socket to one client at a time, and Proxmox's daemons
// use it too: each command connects, syncs the stream (guest-sync-delimited:
// whatever an earlier client left unread is skipped up to the 0xFF sentinel
// that precedes the answer carrying our id), asks, and closes. Every wait is
// bounded; the agent's answers are hostile input, their size capped.
#include <chrono>
#include <cstdint>
#include <string>

#include "qemu/GuestAgentChannel.hpp"

namespace vmi {

class QgaSocket : public GuestAgentChannel {
public:
    // `who` names the agent in messages; each command waits at most `timeout`.
    QgaSocket(std::string path, std::string who, std::chrono::milliseconds timeout);

    nlohmann::json command(const std::string& name, const nlohmann::json& arguments) override;

private:
    std::string path_;
    std::string who_;
    std::chrono::milliseconds timeout_;
    std::uint64_t next_sync_id_;
};

} // namespace vmi
