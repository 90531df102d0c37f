#include "vmi/ScopedPause.hpp"

#include "vmi/Diagnostics.hpp"

namespace vmi {

ScopedPause::ScopedPause(PhysicalMemory& memory, bool enabled) : memory_(memory)
{
    if (!enabled) return;
    // Hold the signals back before pausing, so none lands between the pause
    // and the point where the destructor is sure to run.
    sigset_t held;
    sigemptyset(&held);
    for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&held, signal);
    signals_held_ = pthread_sigmask(SIG_BLOCK, &held, &previous_mask_) == 0;
    try {
        paused_ = memory_.pause();
    } catch (...) {
        if (signals_held_) pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
        throw;
    }
}

ScopedPause::~ScopedPause()
{
    if (paused_) {
        try {
            memory_.resume();
        } catch (const std::exception& e) {
            diag::warn("could not resume the guest: {}", e.what());
        }
    }
    // A signal that arrived meanwhile is delivered now, with the guest running.
    if (signals_held_) pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

} // namespace vmi
