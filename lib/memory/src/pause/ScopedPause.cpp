#include "vmi/memory/ScopedPause.hpp"

#include <exception>

#include "DeferredSignals.hpp"
#include "PauseGuardian.hpp"
#include "PauseLock.hpp"
#include "SignalFreeThread.hpp"
#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

std::optional<std::string> unreported_failure;

// Resumes the guest if the lock's last holder died with it paused, and says so.
bool resume_if_abandoned(MemorySource& memory, const PauseLock& lock)
{
    int pid = lock.abandoned_by();
    if (pid == 0) return false;
    bool resumed = memory.resume_if_paused();
    if (resumed) diag::warn("vmitools pid {} died with this guest paused and nothing resumed it: resumed it now", pid);
    else diag::note("vmitools pid {} died at its pause, but the guest runs", pid);
    lock.record_resumed();
    return resumed;
}

std::string expiry_message(std::chrono::milliseconds limit)
{
    return fmt::format("the guest stayed paused longer than --max-pause ({} ms): it was resumed and the walk stopped "
                       "(raise --max-pause, or 0 for no limit)",
                       limit.count());
}

} // namespace

ScopedPause::ScopedPause(MemorySource& memory, bool enabled, PauseLimits limits) : memory_(memory)
{
    if (!enabled) return;
    if (std::string key = memory_.guest_key(); !key.empty()) {
        lock_ = std::make_unique<PauseLock>(key, limits.lock_wait);
        diag::note("pause lock {} taken after {:.1f} ms", lock_->path(),
                   std::chrono::duration<double, std::milli>(lock_->waited()).count());
        resume_if_abandoned(memory_, *lock_);
    }
    // Signals are held back before pausing, so none lands between the pause
    // and the point where the destructor is sure to run.
    // A fault from the moment the stop may be on its way resumes the guest
    // (the source acts on that only once it has sent the stop).
    signals_ = std::make_unique<DeferredSignals>();
    try {
        if (memory_.live()) {
            memory_.prepare_pause();
            guardian_ = std::make_unique<PauseGuardian>(memory_, lock_.get());
            memory_.set_pause_witness(guardian_.get());
        }
        DeferredSignals::resume_on_fault(&memory_);
        paused_ = memory_.pause();
    } catch (...) {
        release();
        throw;
    }
    if (!paused_) {
        // Paused by someone else, or a source that does not run: nothing of
        // ours to resume, so nothing to guard.
        release();
        return;
    }
    ended_ = false;
    uncaught_at_start_ = std::uncaught_exceptions();
    max_pause_ = limits.max_pause;
    if (max_pause_.count() > 0) watchdog_ = signal_free_thread([this] { watch(); });
}

bool resume_abandoned_pause(MemorySource& memory, std::chrono::milliseconds lock_wait)
{
    std::string key = memory.guest_key();
    if (key.empty()) return false;
    PauseLock lock(key, lock_wait);
    return resume_if_abandoned(memory, lock);
}

ScopedPause::~ScopedPause()
{
    if (ended_) return;
    end();
    // A failed resume is always reported; a pause that ran out only when no
    // exception (most likely its own, from a read) is on its way.
    if (resume_failure_) unreported_failure = resume_failure_;
    else if (expired_ && std::uncaught_exceptions() <= uncaught_at_start_)
        unreported_failure = expiry_message(max_pause_);
}

void ScopedPause::resume()
{
    if (ended_) return;
    end();
    if (resume_failure_) throw Error(*resume_failure_);
    if (expired_) throw Error(expiry_message(max_pause_));
}

std::optional<std::string> ScopedPause::take_unreported_failure()
{
    std::optional<std::string> failure;
    failure.swap(unreported_failure);
    return failure;
}

void ScopedPause::watch()
{
    std::unique_lock lock(watch_mutex_);
    if (watch_stop_.wait_for(lock, max_pause_, [this] { return stop_watching_; })) return;
    expired_ = true;
    lock.unlock();
    try {
        memory_.expire_pause(expiry_message(max_pause_));
    } catch (const std::exception&) {
        // Left to end(), which tries once more and reports.
    }
}

void ScopedPause::end()
{
    ended_ = true;
    if (watchdog_.joinable()) {
        {
            std::lock_guard lock(watch_mutex_);
            stop_watching_ = true;
        }
        watch_stop_.notify_all();
        watchdog_.join();
    }
    try {
        memory_.resume();
    } catch (const std::exception& e) {
        std::string how = memory_.resume_command();
        resume_failure_ = fmt::format("could not resume the guest: {}; it may still be paused: resume it with {}",
                                      e.what(), how.empty() ? "the hypervisor's own tools" : how);
    }
    release();
}

void ScopedPause::release()
{
    DeferredSignals::resume_on_fault(nullptr);
    memory_.set_pause_witness(nullptr);
    // Done with the pause, however it went: a failed resume is this
    // process's to report (with the command that resumes the guest).
    if (guardian_) guardian_->stand_down();
    guardian_.reset();
    // The lock goes before the signals: a Ctrl-Z that acts now stops this
    // tool with the guest running and no one kept waiting for the lock.
    lock_.reset();
    signals_.reset();
}

} // namespace vmi
