#pragma once
// Pauses a guest for a consistent view and resumes it when the scope ends,
// however it ends. A guest that was already paused is not resumed by us.
//
// While the guest is paused:
// - One vmitools process at a time pauses a given guest: a per-guest lock is
//   held from the check whether the guest runs to its resume, so a second
//   tool waits (at most `lock_wait`, then fails in one line) rather than
//   finding the guest paused by the first and walking on while the first
//   resumes it.
// - Every signal that can be caught is held back and acts once the guest
//   runs again; a crash resumes the guest first (see DeferredSignals in
//   src/).
// - A guardian process resumes the guest if this one dies at the pause by a
//   signal no one can catch (SIGKILL, the OOM killer; see PauseGuardian in
//   src/). The pause lock records the pause, so the next run of any tool on
//   the guest resumes one that a dead tool and its guardian left paused, and
//   says so.
// - The pause lasts at most `max_pause`: a thread resumes the guest when
//   that runs out, and every read and write fails from then on, so the tool
//   stops with an error instead of reading a running guest as if paused.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "vmi/memory/MemorySource.hpp"

namespace vmi {

class DeferredSignals;
class PauseGuardian;
class PauseLock;

struct PauseLimits {
    // The longest the guest stays paused; zero: no limit.
    std::chrono::milliseconds max_pause{10000};
    // The longest to wait for another vmitools process that has the guest paused.
    std::chrono::milliseconds lock_wait{5000};
};

class ScopedPause {
public:
    // With `enabled` false nothing is paused (--no-pause: read live). Throws
    // vmi::Error when the lock does not come in time or the guest cannot be
    // paused (nothing is then left paused, or the message says how to resume).
    ScopedPause(MemorySource& memory, bool enabled, PauseLimits limits = {});
    // Resumes the guest if resume() was not called. A failure is not thrown
    // (an exception may be on its way already) but kept for
    // take_unreported_failure().
    ~ScopedPause();
    ScopedPause(const ScopedPause&) = delete;
    ScopedPause& operator=(const ScopedPause&) = delete;

    // The end of the paused work: resumes the guest now. Throws vmi::Error
    // when it cannot (the message gives the command that resumes it by hand)
    // or when the time limit ran out before.
    void resume();

    // A resume that failed in a destructor, as the one line to report; the
    // tools' main frame asks after every run, so a guest left paused always
    // ends in exit status 2.
    static std::optional<std::string> take_unreported_failure();

private:
    // Resumes (unless the time limit did), then release().
    void end();
    // Ends the guardian, releases the lock, restores the signals.
    void release();
    void watch();

    MemorySource& memory_;
    bool ended_ = true; // true until a pause of ours is in force
    bool paused_ = false;
    int uncaught_at_start_ = 0;
    std::unique_ptr<PauseLock> lock_;
    std::unique_ptr<DeferredSignals> signals_;
    std::unique_ptr<PauseGuardian> guardian_;
    std::chrono::milliseconds max_pause_{0};
    std::optional<std::string> resume_failure_;
    // The time-limit thread; expired_ is written by it before end() joins it.
    std::thread watchdog_;
    std::mutex watch_mutex_;
    std::condition_variable watch_stop_;
    bool stop_watching_ = false;
    bool expired_ = false;
};

// For a unit's ExecStopPost, after systemd killed a tool and its guardian
// together: takes the guest's pause lock (waiting at most `lock_wait`) and,
// if its last holder died with its pause in force, resumes the guest and
// says so on stderr. Returns whether it resumed the guest. Throws vmi::Error
// when the lock does not come or the guest cannot be resumed.
bool resume_abandoned_pause(MemorySource& memory, std::chrono::milliseconds lock_wait);

} // namespace vmi
