#pragma once
// Pauses a guest for a consistent view and resumes it when the scope ends,
// however it ends. A guest that was already paused is not resumed by us.
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
};

} // namespace vmi
