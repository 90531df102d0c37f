#pragma once
// The per-guest pause lock: one vmitools process at a time pauses a given
// guest, from checking whether it runs to resuming it. Without it, a second
// tool could find the guest paused by the first, take it for paused by
// someone else, and walk on while the first resumes it.
//
// An flock(2) on a file named after the guest (MemorySource::guest_key) in
// $VMI_LOCK_DIR, else /run/vmitools (root, or where that is writable), else
// $XDG_RUNTIME_DIR/vmitools, else /tmp/vmitools-UID. The kernel drops the
// lock when its holder exits, however it exits. The holder writes its pid
// into the file, so a waiter that gives up can name it.
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

private:
    std::string path_;
    int fd_ = -1;
    std::chrono::steady_clock::duration waited_{};
};

// The directory lock files go to (made if missing); throws vmi::Error when
// none of the places above can be used.
std::string pause_lock_directory();

} // namespace vmi
