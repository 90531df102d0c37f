#pragma once
// A QEMU monitor reached through its QMP socket (`-qmp unix:PATH,server,nowait`),
// for a QEMU that no libvirt manages. Every wait on the socket is bounded, and
// each command's answer is matched by its "id": after a command that timed
// out, QEMU's late answer to it is not taken for the next one's.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "qemu/QemuMonitor.hpp"

namespace vmi {

// How long a QmpSocket keeps its connection.
enum class QmpHold {
    always,  // from construction to destruction
    briefly, // only while it is used: release() closes it, the next command
             // connects again (a socket QEMU serves one client at a time)
};

class QmpSocket : public QemuMonitor {
public:
    // Connects, reads QEMU's greeting and enters command mode. Throws
    // vmi::Error naming the socket when any of that fails; with
    // QmpHold::briefly, a greeting that does not come within `busy_ms` says
    // the socket is busy (QEMU greets a client once the one before it left).
    explicit QmpSocket(const std::string& path, int timeout_ms = 10000, QmpHold hold = QmpHold::always,
                       int busy_ms = 5000);
    ~QmpSocket() override;
    QmpSocket(const QmpSocket&) = delete;
    QmpSocket& operator=(const QmpSocket&) = delete;

    nlohmann::json command(const std::string& name,
                           const nlohmann::json& arguments = nlohmann::json::object()) override;
    int qemu_pid() const override { return named_pid_ > 0 ? named_pid_ : pid_; }
    // The QEMU process as its manager names it (Proxmox's .pid file), over the
    // socket's peer (which a proxy in between would be).
    void name_qemu_pid(int pid) { named_pid_ = pid; }
    std::string describe() const override;
    std::string guest_key() const override;
    std::string resume_command() const override;
    void cont_from_signal_handler() noexcept override;
    // QEMU's version as the greeting gave it: major * 10000 + minor * 100 + micro.
    int qemu_version() const { return version_; }
    void hold() override;
    void release() override;

private:
    // Connects and enters command mode (mutex_ held).
    void connect_locked();
    nlohmann::json command_locked(const std::string& name, const nlohmann::json& arguments);
    nlohmann::json read_message(std::chrono::steady_clock::time_point deadline);
    void send(const nlohmann::json& message);

    std::string path_;
    std::atomic<int> fd_{-1}; // read without the lock by cont_from_signal_handler
    int timeout_ms_;
    QmpHold hold_;
    int busy_ms_;
    int pid_ = 0;
    int named_pid_ = 0;
    int version_ = 0;
    std::uint64_t socket_device_ = 0, socket_inode_ = 0;
    std::mutex mutex_; // one command at a time, whichever thread sends it
    std::uint64_t next_id_ = 1;
    std::string buffer_;
};

} // namespace vmi
