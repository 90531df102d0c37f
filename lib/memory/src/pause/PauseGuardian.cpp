#include "PauseGuardian.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "PauseLock.hpp"
#include "SignalSafeWrite.hpp"
#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/memory/MemorySource.hpp"

namespace vmi {
namespace {

// How long the tool waits for its guardian to leave its process group.
constexpr int START_MS = 5000;

// The guardian's life, in the forked child: only async-signal-safe calls
// (the parent may have had threads). Never returns.
[[noreturn]] void guard(int words, int started, MemorySource& memory, const PauseLock* lock,
                        const std::string& message) noexcept
{
    ::setsid();
    // Out of the tool's process group now: a kill of that group no longer
    // reaches this process. The tool waits for this word before it pauses.
    char word = 'S';
    while (::write(started, &word, 1) < 0 && errno == EINTR) {}
    ::close(started);
    // What the tool held back or handled means nothing here; what would end
    // the tool from its terminal or its group must not end the guardian.
    struct sigaction action {};
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    for (int signal = 1; signal < NSIG; ++signal)
        if (signal != SIGKILL && signal != SIGSTOP) ::sigaction(signal, &action, nullptr);
    action.sa_handler = SIG_IGN;
    for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGALRM,
                       SIGXCPU, SIGVTALRM, SIGPROF})
        ::sigaction(signal, &action, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Not the tool's input or output: a script reading the tool's stdout to
    // its end must not wait for the guardian. stderr stays, for the message.
    if (int null = ::open("/dev/null", O_RDWR | O_CLOEXEC); null >= 0) {
        ::dup2(null, STDIN_FILENO);
        ::dup2(null, STDOUT_FILENO);
        ::close(null);
    }

    char last = 'R';
    for (;;) {
        ssize_t n = ::read(words, &word, 1);
        if (n == 1) {
            last = word;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break; // the tool is gone, or done with the pause
    }
    if (last == 'P') {
        write_all_signal_safe(STDERR_FILENO, message.data(), message.size());
        memory.resume_signal_safe();
        if (lock) lock->record_resumed();
    }
    ::_exit(0);
}

} // namespace

PauseGuardian::PauseGuardian(MemorySource& memory, const PauseLock* lock) : lock_(lock)
{
    int ends[2] = {-1, -1}, started[2] = {-1, -1};
    if (::pipe2(ends, O_CLOEXEC) != 0) fail("cannot make the pause guardian's pipe: {}", std::strerror(errno));
    if (::pipe2(started, O_CLOEXEC) != 0) {
        int err = errno;
        ::close(ends[0]);
        ::close(ends[1]);
        fail("cannot make the pause guardian's pipe: {}", std::strerror(err));
    }
    // Made before the fork: the child may not allocate.
    std::string message = fmt::format("{}: pid {} ended with the guest paused: its guardian resumes the guest\n",
                                      diag::program(), ::getpid());
    pid_t child = ::_Fork();
    if (child < 0) {
        int err = errno;
        for (int fd : {ends[0], ends[1], started[0], started[1]}) ::close(fd);
        fail("cannot start the pause guardian: {}", std::strerror(err));
    }
    if (child == 0) {
        ::close(ends[1]);
        ::close(started[0]);
        guard(ends[0], started[1], memory, lock, message);
    }
    ::close(ends[0]);
    ::close(started[1]);
    pipe_ = ends[1];
    pid_ = child;
    // Until the child has left the tool's process group (setsid), a kill of
    // that group, which is how a shell or a supervisor ends the tool, would
    // end the guardian with it: no pause before it says so.
    char word = 0;
    pollfd ready{started[0], POLLIN, 0};
    int polled = 0;
    do polled = ::poll(&ready, 1, START_MS);
    while (polled < 0 && errno == EINTR);
    ssize_t got = polled > 0 ? ::read(started[0], &word, 1) : 0;
    ::close(started[0]);
    if (got != 1) {
        ::close(pipe_);
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {}
        fail("the pause guardian did not start within {} ms (pid {}): not pausing without it", START_MS, pid_);
    }
    diag::note("pause guardian started (pid {})", pid_);
}

PauseGuardian::~PauseGuardian()
{
    ::close(pipe_);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {}
}

void PauseGuardian::tell(char word) const noexcept
{
    while (::write(pipe_, &word, 1) < 0 && errno == EINTR) {}
}

void PauseGuardian::pause_requested() noexcept
{
    if (lock_) lock_->record_paused();
    tell('P');
}

void PauseGuardian::pause_over() noexcept
{
    tell('R');
    if (lock_) lock_->record_resumed();
}

} // namespace vmi
