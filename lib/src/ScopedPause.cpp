#include "vmi/ScopedPause.hpp"

#include "vmi/Diagnostics.hpp"

namespace vmi {

ScopedPause::ScopedPause(PhysicalMemory& memory, bool enabled) : memory_(memory)
{
    if (!enabled) return;
    paused_ = memory_.pause();
}

ScopedPause::~ScopedPause()
{
    if (!paused_) return;
    try {
        memory_.resume();
    } catch (const std::exception& e) {
        diag::warn("could not resume the guest: {}", e.what());
    }
}

} // namespace vmi
