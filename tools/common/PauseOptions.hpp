#pragma once
// How the tools that walk a live guest pause it: --no-pause (where reading
// live makes sense), --max-pause MS and --lock-wait MS (see ScopedPause);
// and --resume-abandoned, a unit's ExecStopPost.
#include <cstdint>

#include <CLI/CLI.hpp>

#include "common/GuestOptions.hpp"
#include "vmi/memory/ScopedPause.hpp"

namespace vmi {

struct PauseOptions {
    bool no_pause = false;
    std::int64_t max_pause_ms = 10000;
    std::int64_t lock_wait_ms = 5000;
    bool resume_abandoned = false;

    PauseLimits limits() const;
};

// With `offer_no_pause`, --no-pause too.
void add_pause_options(CLI::App& app, PauseOptions& options, bool offer_no_pause);

// --resume-abandoned, and what it does instead of the tool's job: resume the
// guest if a vmitools process died with it paused (its pause lock says so),
// nothing else. Returns the exit status.
void add_resume_abandoned_option(CLI::App& app, PauseOptions& options);
int run_resume_abandoned(const GuestOptions& guest, const PauseOptions& options);

} // namespace vmi
