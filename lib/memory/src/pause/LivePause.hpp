#pragma once
// The bookkeeping of one live guest's pause, the same for every live backend
// (QEMU, Xen): whether our pause request went out and is not yet undone (what
// a crash handler must undo), how long the guest was paused, and whether the
// time limit ended the pause early (every read fails from then on, and the
// backend's resume() has nothing left to resume).
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "vmi/memory/PauseWitness.hpp"

namespace vmi {

class LivePause {
public:
    // Just before the backend asks the hypervisor to pause the guest, and if
    // that request surely did not pause it.
    void request_sent();
    void request_undone();
    // The guest is paused by us: the clock starts, reads are allowed.
    void started();

    // From the time-limit thread, before the backend resumes the guest: reads
    // fail with `why` from now on. Then, once the guest runs again:
    void expire(const std::string& why);
    void resumed_early();

    // Whether resume() still has to resume the guest; then, after it did
    // (or had nothing to do), resumed() stops the clock and says how long.
    bool needs_resume() const { return !resumed_early_.load(); }
    void resumed();

    // Throws vmi::Error with expire()'s reason once the pause has expired.
    void throw_if_expired() const;

    // For a crash handler: true once if our pause request went out and no
    // resume has undone it yet; then, once it sent the resume:
    bool take_unresumed() noexcept { return sent_.exchange(false); }
    // Whether a pause request is out and the guest not resumed yet.
    bool in_force() const noexcept { return sent_.load(); }
    void resumed_from_signal_handler() noexcept;

    // Told of every request and of its end from now on (nullptr: no one).
    void set_witness(PauseWitness* witness) { witness_ = witness; }

private:
    void tell_over() noexcept;

    std::atomic<bool> sent_{false};
    std::atomic<PauseWitness*> witness_{nullptr};
    std::atomic<bool> expired_{false};
    std::atomic<bool> resumed_early_{false};
    mutable std::mutex why_mutex_;
    std::string why_;
    std::chrono::steady_clock::time_point paused_at_;
    std::chrono::steady_clock::time_point resumed_at_;
};

} // namespace vmi
