#pragma once
// What a tool works on, opened from the shared options: the session (config
// entry and memory source) and, on that, the Linux kernel. Checks the flags
// that need no guest (--format, --pagemode) before touching one.
#include "common/GuestOptions.hpp"
#include "vmi/linux/LinuxKernel.hpp"
#include "vmi/session/Session.hpp"

namespace vmi {

class Guest {
public:
    // With `memory_optional`, neither VM nor --image is needed (symbols only,
    // e.g. vmi-ksym --sysmap FILE).
    explicit Guest(const GuestOptions& options, bool memory_optional = false);
    Guest(const Guest&) = delete;
    Guest& operator=(const Guest&) = delete;

    Session& session() { return session_; }
    MemorySource& memory() { return session_.memory(); }
    LinuxKernel& kernel() { return kernel_; }

private:
    Session session_;
    LinuxKernel kernel_;
};

} // namespace vmi
