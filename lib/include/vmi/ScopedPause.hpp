#pragma once
// Pauses a guest for a consistent view and resumes it when the scope ends,
// however it ends. A guest that was already paused is not resumed by us.
//
// While the guest is paused, SIGINT, SIGTERM, SIGHUP and SIGQUIT are held
// back (blocked, not ignored): a Ctrl-C or a kill during the walk takes
// effect the moment the guest runs again, so no signal that can be caught
// leaves a guest paused. SIGKILL cannot be held back; nothing can help there.
#include <signal.h>

#include "vmi/PhysicalMemory.hpp"

namespace vmi {

class ScopedPause {
public:
    // With `enabled` false nothing is paused (--no-pause: read live).
    ScopedPause(PhysicalMemory& memory, bool enabled);
    ~ScopedPause();
    ScopedPause(const ScopedPause&) = delete;
    ScopedPause& operator=(const ScopedPause&) = delete;

private:
    PhysicalMemory& memory_;
    bool paused_ = false;
    bool signals_held_ = false;
    sigset_t previous_mask_{};
};

} // namespace vmi
