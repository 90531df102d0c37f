#include "pause/LivePause.hpp"

#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {

void LivePause::request_sent()
{
    if (PauseWitness* witness = witness_.load()) witness->pause_requested();
    sent_ = true;
}

void LivePause::request_undone()
{
    sent_ = false;
    tell_over();
}

void LivePause::tell_over() noexcept
{
    if (PauseWitness* witness = witness_.load()) witness->pause_over();
}

void LivePause::resumed_from_signal_handler() noexcept { tell_over(); }

void LivePause::started()
{
    paused_at_ = std::chrono::steady_clock::now();
    expired_ = false;
    resumed_early_ = false;
    diag::note("guest paused");
}

void LivePause::expire(const std::string& why)
{
    {
        std::lock_guard lock(why_mutex_);
        why_ = why;
    }
    expired_ = true;
}

void LivePause::resumed_early()
{
    resumed_at_ = std::chrono::steady_clock::now();
    resumed_early_ = true;
    sent_ = false;
    tell_over();
}

void LivePause::resumed()
{
    bool early = resumed_early_.load();
    if (!early) resumed_at_ = std::chrono::steady_clock::now();
    sent_ = false;
    tell_over();
    diag::note("guest resumed after {:.1f} ms paused{}",
               std::chrono::duration<double, std::milli>(resumed_at_ - paused_at_).count(),
               early ? " (the time limit ran out)" : "");
}

void LivePause::throw_if_expired() const
{
    if (!expired_.load()) return;
    std::lock_guard lock(why_mutex_);
    throw Error(why_);
}

} // namespace vmi
