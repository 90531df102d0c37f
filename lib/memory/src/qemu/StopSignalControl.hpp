#pragma once
// A QEMU process with no monitor we can reach (its command line names no QMP
// socket): it answers no commands and gives no registers. It is paused with
// SIGSTOP, which stops every thread of the process, vCPUs included, and
// resumed with SIGCONT, which a signal handler and the pause guardian can send
// too. A QEMU someone else stopped (state T) counts as paused.
#include <string>

#include "qemu/QemuMonitor.hpp"

namespace vmi {

class StopSignalControl : public QemuMonitor {
public:
    StopSignalControl(int pid, std::string name);

    nlohmann::json command(const std::string& name, const nlohmann::json& arguments) override;
    int qemu_pid() const override { return pid_; }
    std::string describe() const override;
    void stop() override;
    void cont() override;
    bool running() override;
    std::string guest_key() const override;
    std::string resume_command() const override;
    void cont_from_signal_handler() noexcept override;
    bool answers_commands() const override { return false; }

private:
    int pid_;
    std::string name_;
};

} // namespace vmi
