#pragma once
// A command prepared beforehand and run from a signal handler: the crash
// handler's way to resume a guest through a hypervisor's own tool (`virsh
// resume`, `xl unpause`) when the library that would do it cannot be called
// there. Everything is found and allocated in the constructor; run() only
// forks, execs and waits, all async-signal-safe.
#include <string>
#include <vector>

namespace vmi {

class SignalSafeCommand {
public:
    // `program` looked up in $PATH now; arguments as given. A program that
    // is not found makes run() do nothing.
    SignalSafeCommand(const std::string& program, std::vector<std::string> arguments);
    SignalSafeCommand(const SignalSafeCommand&) = delete;
    SignalSafeCommand& operator=(const SignalSafeCommand&) = delete;

    bool found() const { return !argv_.empty(); }
    // Runs it and waits at most `wait_ms` for it to end (then kills it).
    void run(int wait_ms) const noexcept;

private:
    std::vector<std::string> words_;
    std::vector<char*> argv_;
};

} // namespace vmi
