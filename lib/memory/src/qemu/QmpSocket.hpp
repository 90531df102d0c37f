#pragma once
// A QEMU monitor reached through its QMP socket (`-qmp unix:PATH,server,nowait`),
// for a QEMU that no libvirt manages. Every wait on the socket is bounded, and
// each command's answer is matched by its "id": after a command that timed
// out, QEMU's late answer to it is not taken for the next one's.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "qemu/QemuMonitor.hpp"

namespace vmi {

class QmpSocket : public QemuMonitor {
public:
    // Connects, reads QEMU's greeting and enters command mode. Throws
    // vmi::Error naming the socket when any of that fails.
    explicit QmpSocket(const std::string& path, int timeout_ms = 10000);
    ~QmpSocket() override;
    QmpSocket(const QmpSocket&) = delete;
    QmpSocket& operator=(const QmpSocket&) = delete;

    nlohmann::json command(const std::string& name,
                           const nlohmann::json& arguments = nlohmann::json::object()) override;
    int qemu_pid() const override { return pid_; }
    std::string describe() const override;
    std::string guest_key() const override;
    std::string resume_command() const override;
    void cont_from_signal_handler() noexcept override;
    // QEMU's version as the greeting gave it: major * 10000 + minor * 100 + micro.
    int qemu_version() const { return version_; }

private:
    nlohmann::json read_message(std::chrono::steady_clock::time_point deadline);
    void send(const nlohmann::json& message);

    std::string path_;
    int fd_ = -1;
    int timeout_ms_;
    int pid_ = 0;
    int version_ = 0;
    std::uint64_t socket_device_ = 0, socket_inode_ = 0;
    std::mutex mutex_; // one command at a time, whichever thread sends it
    std::uint64_t next_id_ = 1;
    std::string buffer_;
};

} // namespace vmi
