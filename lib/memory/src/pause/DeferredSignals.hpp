#pragma once
// Signals while a guest is paused (see ScopedPause). Every signal that can be
// caught is held back (blocked) and acts once the guest runs again: Ctrl-C,
// kill, SIGHUP, SIGQUIT, SIGUSR1/2, SIGALRM, SIGXCPU, SIGPIPE, ...; a Ctrl-Z
// (SIGTSTP) stops the tool only after it resumed the guest.
//
// Faults cannot be held back (the kernel kills a process whose SIGSEGV,
// SIGBUS, SIGFPE, SIGILL, SIGTRAP or SIGSYS is blocked), and abort() unblocks
// SIGABRT. Those get a handler instead: it resumes the guest first, through
// MemorySource::resume_from_signal_handler (async-signal-safe), says so on
// stderr, and then lets the signal do what it would have done (the handler
// that was there before, a sanitizer's report, or the default: a core dump).
// A sanitizer's own report of a bug resumes the guest the same way.
#include <csignal>

namespace vmi {

class MemorySource;

class DeferredSignals {
public:
    // Holds back every catchable signal of this thread and installs the fault
    // handlers. Threads started afterwards inherit the mask.
    DeferredSignals();
    // Restores the fault handlers, then the signal mask: held-back signals act now.
    ~DeferredSignals();
    DeferredSignals(const DeferredSignals&) = delete;
    DeferredSignals& operator=(const DeferredSignals&) = delete;

    // From now on a fault resumes `memory` before it acts (nullptr: none).
    static void resume_on_fault(MemorySource* memory);

private:
    sigset_t previous_mask_{};
    bool mask_held_ = false;
};

} // namespace vmi
