#pragma once
// The skeleton every tool that walks the guest's lists runs: find the kernel
// first (that reads memory, but need not see one moment), then pause the
// guest once for the walk and let it run again before anything is printed.
// The paused window is the walk only; ScopedPause resumes the guest whatever
// happens (error, exception, signal).
#include <type_traits>
#include <utility>

#include "common/Guest.hpp"
#include "common/PauseOptions.hpp"
#include "vmi/memory/ScopedPause.hpp"

namespace vmi {

template <class Walk>
std::invoke_result_t<Walk&> with_paused_walk(Guest& guest, const PauseOptions& options, Walk&& walk)
{
    guest.kernel().attach();
    ScopedPause pause(guest.memory(), !options.no_pause, options.limits());
    std::invoke_result_t<Walk&> result = walk();
    pause.resume();
    return result;
}

} // namespace vmi
