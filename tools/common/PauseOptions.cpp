#include "common/PauseOptions.hpp"

#include "common/Guest.hpp"
#include "common/ToolMain.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {

PauseLimits PauseOptions::limits() const
{
    return {std::chrono::milliseconds(max_pause_ms), std::chrono::milliseconds(lock_wait_ms)};
}

void add_pause_options(CLI::App& app, PauseOptions& options, bool offer_no_pause)
{
    if (offer_no_pause) app.add_flag("--no-pause", options.no_pause, "Read a live guest without pausing it");
    // An hour at most: a number that large is a typo, not a plan.
    app.add_option("--max-pause", options.max_pause_ms,
                   "Longest a live guest stays paused, in ms; when it runs out the guest is resumed and the tool "
                   "fails (0: no limit)")
        ->default_val(options.max_pause_ms)
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{3600000}));
    app.add_option("--lock-wait", options.lock_wait_ms,
                   "Longest to wait, in ms, while another vmitools tool has the same guest paused")
        ->default_val(options.lock_wait_ms)
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{3600000}));
}

void add_resume_abandoned_option(CLI::App& app, PauseOptions& options)
{
    app.add_flag("--resume-abandoned", options.resume_abandoned,
                 "Only resume the guest if a vmitools process died with it paused (its pause lock says so), and "
                 "do nothing else: a systemd unit's ExecStopPost");
}

int run_resume_abandoned(const GuestOptions& guest, const PauseOptions& options)
{
    Guest opened(guest);
    if (!opened.memory().live()) fail("--resume-abandoned needs a running guest, not a file");
    resume_abandoned_pause(opened.memory(), std::chrono::milliseconds(options.lock_wait_ms));
    return EXIT_OK;
}

} // namespace vmi
