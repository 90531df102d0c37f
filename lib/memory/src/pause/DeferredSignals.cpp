#include "DeferredSignals.hpp"

#include <array>
#include <atomic>
#include <cstring>
#include <pthread.h>
#include <unistd.h>

#include "SignalSafeWrite.hpp"
#include "vmi/base/Diagnostics.hpp"
#include "vmi/memory/MemorySource.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define VMI_HAVE_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/common_interface_defs.h>
#define VMI_HAVE_SANITIZER 1
#endif
#endif

namespace vmi {
namespace {

constexpr std::array FAULT_SIGNALS{SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};

// Shared with the signal handler: only lock-free atomics and data written
// before the handler is installed.
std::atomic<MemorySource*> memory_to_resume{nullptr};
std::array<struct sigaction, NSIG> previous_actions{};
std::array<char, 256> fault_message{};
std::size_t fault_message_size = 0;
int holders = 0; // DeferredSignals objects alive (the main thread's only)

// Resumes the guest if a pause is in force; async-signal-safe.
void resume_now()
{
    MemorySource* memory = memory_to_resume.exchange(nullptr);
    if (!memory) return;
    write_all_signal_safe(STDERR_FILENO, fault_message.data(), fault_message_size);
    memory->resume_from_signal_handler();
}

void on_fault(int signal, siginfo_t* info, void* /*context*/)
{
    int saved_errno = errno;
    resume_now();
    // Back to what was there, then the signal once more: a fault recurs when
    // the instruction runs again on return; a sent signal (kill, abort) is
    // raised again, and acts when this handler returns.
    ::sigaction(signal, &previous_actions[static_cast<std::size_t>(signal)], nullptr);
    if (info == nullptr || info->si_code <= 0 || signal == SIGABRT) ::raise(signal);
    errno = saved_errno;
}

#ifdef VMI_HAVE_SANITIZER
void on_sanitizer_death() { resume_now(); }
#endif

} // namespace

DeferredSignals::DeferredSignals()
{
    ++holders;
    sigset_t held;
    sigfillset(&held);
    for (int signal : FAULT_SIGNALS) sigdelset(&held, signal);
    mask_held_ = pthread_sigmask(SIG_BLOCK, &held, &previous_mask_) == 0;
    if (holders > 1) return; // the outer one has the handlers in place

    std::string message = fmt::format("{}: crashing while the guest is paused: resuming it first\n", diag::program());
    fault_message_size = std::min(message.size(), fault_message.size());
    std::memcpy(fault_message.data(), message.data(), fault_message_size);
    struct sigaction action {};
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO;
    sigfillset(&action.sa_mask); // nothing else runs while the guest is being resumed
    for (int signal : FAULT_SIGNALS) ::sigaction(signal, &action, &previous_actions[static_cast<std::size_t>(signal)]);
#ifdef VMI_HAVE_SANITIZER
    __sanitizer_set_death_callback(on_sanitizer_death);
#endif
}

DeferredSignals::~DeferredSignals()
{
    if (--holders == 0) {
        memory_to_resume = nullptr;
#ifdef VMI_HAVE_SANITIZER
        __sanitizer_set_death_callback(nullptr);
#endif
        for (int signal : FAULT_SIGNALS)
            ::sigaction(signal, &previous_actions[static_cast<std::size_t>(signal)], nullptr);
    }
    // A signal that arrived meanwhile acts now, with the guest running.
    if (mask_held_) pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

void DeferredSignals::resume_on_fault(MemorySource* memory) { memory_to_resume = memory; }

} // namespace vmi
