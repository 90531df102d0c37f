#pragma once
// A QEMU monitor reached through its QMP socket (`-qmp unix:PATH,server,nowait`),
// for a QEMU that no libvirt manages. Every wait on the socket is bounded.
#include <string>

#include "vmi/QemuMonitor.hpp"

namespace vmi {

class QmpSocket : public QemuMonitor {
public:
    // Connects, reads QEMU's greeting and enters command mode. Throws
    // vmi::Error naming the socket when any of that fails.
    explicit QmpSocket(const std::string& path, int timeout_ms = 10000);
    ~QmpSocket() override;
    QmpSocket(const QmpSocket&) = delete;
    QmpSocket& operator=(const QmpSocket&) = delete;

    nlohmann::json command(const std::string& name, const nlohmann::json& arguments = nlohmann::json::object()) override;
    int qemu_pid() const override { return pid_; }
    std::string describe() const override;
    // QEMU's version as the greeting gave it: major * 10000 + minor * 100 + micro.
    int qemu_version() const { return version_; }

private:
    nlohmann::json read_message();
    void send(const nlohmann::json& message);

    std::string path_;
    int fd_ = -1;
    int timeout_ms_;
    int pid_ = 0;
    int version_ = 0;
    std::string buffer_;
};

} // namespace vmi
