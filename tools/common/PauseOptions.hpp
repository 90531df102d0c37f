#pragma once
// How the tools that walk a live guest pause it: --no-pause (where reading
// live makes sense), --max-pause MS and --lock-wait MS (see ScopedPause).
#include <cstdint>

#include <CLI/CLI.hpp>

#include "vmi/memory/ScopedPause.hpp"

namespace vmi {

struct PauseOptions {
    bool no_pause = false;
    std::int64_t max_pause_ms = 10000;
    std::int64_t lock_wait_ms = 5000;

    PauseLimits limits() const;
};

// With `offer_no_pause`, --no-pause too.
void add_pause_options(CLI::App& app, PauseOptions& options, bool offer_no_pause);

} // namespace vmi
