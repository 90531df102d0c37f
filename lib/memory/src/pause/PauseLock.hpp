#pragma once
// The per-guest pause lock: one vmitools process at a time pauses a given
// guest, from checking whether it runs to resuming it. Without it, a second
// tool could find the guest paused by the first, take it for paused by
// someone else, and walk on while the first resumes it.
//
// An flock(2) on a file named after the guest (MemorySource::guest_key) in
// $VMI_LOCK_DIR, else /run/vmitools (root, or where that is writable), else
// $XDG_RUNTIME_DIR/vmitools, else /tmp/vmitools-UID. The kernel drops the
// lock when its holder exits, however it exits.
//
// The file records who holds the lock and what it did: "PID locked",
// "PID paused" (our pause request went out) or "PID resumed". A waiter that
// gives up names the holder; the next holder learns from "paused" that the
// last one died with its pause in force and nothing resumed the guest
// (SIGKILL of the tool and of its guardian, as systemd's kill of a unit's
// control group does).
#include <array>
#include <chrono>
#include <string>

namespace vmi {

class PauseLock {
public:
    // Waits up to `wait` for the lock on `key`; throws vmi::Error naming the
    // holder when it does not come in time, or naming the directory when no
    // lock file can be made.
    PauseLock(const std::string& key, std::chrono::milliseconds wait);
    ~PauseLock();
    PauseLock(const PauseLock&) = delete;
    PauseLock& operator=(const PauseLock&) = delete;

    const std::string& path() const { return path_; }
    // How long it took to get the lock.
    std::chrono::steady_clock::duration waited() const { return waited_; }
    // The pid of the last holder when it left its pause in force, else 0.
    int abandoned_by() const { return abandoned_by_; }

    // Records our state; async-signal-safe (a guardian process that
    // inherited the descriptor records its own resume).
    void record_paused() const noexcept { record(paused_record_); }
    void record_resumed() const noexcept { record(resumed_record_); }

private:
    using Record = std::array<char, 32>;
    void record(const Record& text) const noexcept;

    std::string path_;
    int fd_ = -1;
    std::chrono::steady_clock::duration waited_{};
    int abandoned_by_ = 0;
    Record paused_record_{};
    Record resumed_record_{};
};

// The directory lock files go to (made if missing); throws vmi::Error when
// none of the places above can be used.
std::string pause_lock_directory();

} // namespace vmi
