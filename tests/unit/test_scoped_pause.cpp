// ScopedPause on a fake guest: the time limit, the per-guest lock, signals
// held back while paused, a crash that resumes the guest first, the guardian
// that resumes it after a SIGKILL, and a pause that a dead tool left behind.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>

#include "ForkWithPipe.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/memory/PauseWitness.hpp"
#include "vmi/memory/ScopedPause.hpp"

using namespace std::chrono_literals;

namespace {

// A guest that counts pauses and resumes; reads fail once the pause expired,
// as a live backend's do.
class CountingGuest : public vmi::MemorySource {
public:
    explicit CountingGuest(std::string key = "") : key_(std::move(key)) {}
    void read(std::uint64_t, std::span<std::uint8_t>) override
    {
        if (expired) throw vmi::Error(why);
    }
    void write(std::uint64_t, std::span<const std::uint8_t>) override {}
    const std::vector<vmi::PhysicalRange>& ranges() const override { return none_; }
    std::optional<vmi::CpuRegisters> registers() const override { return std::nullopt; }
    bool writable() const override { return false; }
    std::string describe() const override { return "counting guest"; }
    bool pause() override
    {
        ++pauses;
        expired = false;
        return !paused_before;
    }
    void resume() override { ++resumes; }
    std::string guest_key() const override { return key_; }
    std::string resume_command() const override { return "resume-by-hand"; }
    void resume_from_signal_handler() noexcept override
    {
        if (signal_pipe >= 0) [[maybe_unused]]
            ssize_t n = ::write(signal_pipe, "R", 1);
    }
    void expire_pause(const std::string& reason) override
    {
        why = reason;
        expired = true;
        ++early_resumes;
    }

    bool paused_before = false;
    int pauses = 0, resumes = 0;
    std::atomic<int> early_resumes{0};
    std::atomic<bool> expired{false};
    std::string why;
    int signal_pipe = -1;

private:
    std::string key_;
    std::vector<vmi::PhysicalRange> none_;
};

// A private lock directory for the test.
struct LockDirectory {
    std::string path;
    LockDirectory()
    {
        char name[] = "/tmp/vmi-lock-test.XXXXXX";
        path = ::mkdtemp(name);
        ::setenv("VMI_LOCK_DIR", path.c_str(), 1);
    }
    ~LockDirectory()
    {
        ::unsetenv("VMI_LOCK_DIR");
        std::string command = "rm -rf '" + path + "'";
        [[maybe_unused]] int status = std::system(command.c_str());
    }
};

// A running guest as a live backend sees it: it tells the pause witness of
// its request and its resume; its async-signal-safe resume (the guardian's)
// writes 'G' to a pipe; resume_if_paused() resumes what is paused.
class LiveGuest : public CountingGuest {
public:
    using CountingGuest::CountingGuest;
    bool live() const override { return true; }
    bool pause() override
    {
        if (!paused_before && witness_) witness_->pause_requested();
        return CountingGuest::pause();
    }
    void resume() override
    {
        CountingGuest::resume();
        if (witness_) witness_->pause_over();
    }
    void resume_signal_safe() noexcept override
    {
        if (guardian_pipe >= 0) [[maybe_unused]]
            ssize_t n = ::write(guardian_pipe, "G", 1);
    }
    bool resume_if_paused() override
    {
        if (!paused_before) return false;
        paused_before = false;
        ++resumes;
        return true;
    }
    void set_pause_witness(vmi::PauseWitness* witness) override { witness_ = witness; }

    int guardian_pipe = -1;

private:
    vmi::PauseWitness* witness_ = nullptr;
};

std::string read_file(const std::string& path)
{
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

volatile std::sig_atomic_t usr1_seen = 0;
void on_usr1(int) { usr1_seen = 1; }

} // namespace

TEST_CASE("scoped pause: resumes what it paused, once; a guest paused before is left alone")
{
    CountingGuest guest;
    {
        vmi::ScopedPause pause(guest, true, {0ms, 0ms});
        pause.resume();
        pause.resume();
    }
    CHECK(guest.pauses == 1);
    CHECK(guest.resumes == 1);
    guest.paused_before = true;
    {
        vmi::ScopedPause pause(guest, true, {0ms, 0ms});
    }
    CHECK(guest.resumes == 1);
    {
        vmi::ScopedPause pause(guest, false);
    }
    CHECK(guest.pauses == 2);
}

TEST_CASE("scoped pause: the time limit resumes the guest and fails the walk")
{
    CountingGuest guest;
    std::uint8_t byte = 0;
    {
        vmi::ScopedPause pause(guest, true, {50ms, 0ms});
        guest.read(0, {&byte, 1});
        std::this_thread::sleep_for(150ms);
        CHECK(guest.early_resumes == 1);
        CHECK_THROWS_WITH_AS(guest.read(0, {&byte, 1}),
                             "the guest stayed paused longer than --max-pause (50 ms): it was resumed and the walk "
                             "stopped (raise --max-pause, or 0 for no limit)",
                             vmi::Error);
        CHECK_THROWS_WITH_AS(pause.resume(), doctest::Contains("longer than --max-pause (50 ms)"), vmi::Error);
    }
    CHECK(guest.resumes == 1); // resume() runs after the early one too: the backend knows it need not cont again
    CHECK_FALSE(vmi::ScopedPause::take_unreported_failure());
}

TEST_CASE("scoped pause: a walk within the time limit is not disturbed")
{
    CountingGuest guest;
    {
        vmi::ScopedPause pause(guest, true, {2000ms, 0ms});
        std::this_thread::sleep_for(10ms);
        pause.resume();
    }
    CHECK(guest.early_resumes == 0);
    CHECK(guest.resumes == 1);
}

TEST_CASE("scoped pause: a second pause of the same guest waits for the first, bounded")
{
    LockDirectory locks;
    CountingGuest first("qemu-1-2"), second("qemu-1-2"), other("qemu-3-4");
    vmi::ScopedPause held(first, true, {0ms, 0ms});
    auto start = std::chrono::steady_clock::now();
    std::string expected = fmt::format("another vmitools process (pid {}) has held this guest's pause lock for more "
                                       "than 100 ms ({}/qemu-1-2.lock)",
                                       ::getpid(), locks.path);
    CHECK_THROWS_WITH_AS(vmi::ScopedPause(second, true, {0ms, 100ms}), doctest::Contains(expected.c_str()), vmi::Error);
    CHECK(std::chrono::steady_clock::now() - start >= 100ms);
    CHECK(second.pauses == 0); // it never even asked whether the guest runs
    {
        vmi::ScopedPause unrelated(other, true, {0ms, 0ms}); // another guest: no wait
        CHECK(other.pauses == 1);
    }
    held.resume();
    CHECK(first.resumes == 1);
}

TEST_CASE("scoped pause: a tool waits for another process that has the guest paused, then pauses it itself")
{
    LockDirectory locks;
    auto [child, pipe] = fork_with_pipe([](int out) {
        CountingGuest guest("qemu-1-2");
        vmi::ScopedPause pause(guest, true, {0ms, 0ms});
        [[maybe_unused]] ssize_t n = ::write(out, "L", 1);
        std::this_thread::sleep_for(300ms);
        pause.resume();
    });
    char locked = 0;
    REQUIRE(::read(pipe, &locked, 1) == 1);
    ::close(pipe);
    CountingGuest guest("qemu-1-2");
    std::string expected = fmt::format("another vmitools process (pid {})", child);
    CHECK_THROWS_WITH_AS(vmi::ScopedPause(guest, true, {0ms, 50ms}), doctest::Contains(expected.c_str()), vmi::Error);
    auto start = std::chrono::steady_clock::now();
    {
        vmi::ScopedPause pause(guest, true, {0ms, 5000ms});
        CHECK(guest.pauses == 1);
        CHECK(std::chrono::steady_clock::now() - start > 100ms); // it waited for the other's resume
        pause.resume();
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("scoped pause: signals are held back while paused and act after the resume")
{
    CountingGuest guest;
    struct sigaction action {
    }, previous{};
    action.sa_handler = on_usr1;
    ::sigaction(SIGUSR1, &action, &previous);
    usr1_seen = 0;
    {
        vmi::ScopedPause pause(guest, true, {0ms, 0ms});
        ::kill(::getpid(), SIGUSR1);
        std::this_thread::sleep_for(20ms);
        CHECK(usr1_seen == 0);
        sigset_t pending;
        sigpending(&pending);
        CHECK(sigismember(&pending, SIGUSR1));
        pause.resume();
        CHECK(guest.resumes == 1);
        CHECK(usr1_seen == 1);
    }
    ::sigaction(SIGUSR1, &previous, nullptr);
}

TEST_CASE("scoped pause: a crash while paused resumes the guest before the process dies")
{
    for (int signal : {SIGSEGV, SIGABRT, SIGILL, SIGBUS, SIGFPE}) {
        CAPTURE(signal);
        auto [child, pipe] = fork_with_pipe([signal](int out) {
            ::signal(signal, SIG_DFL); // not doctest's crash report: the default action
            CountingGuest guest;
            guest.signal_pipe = out;
            vmi::ScopedPause pause(guest, true, {0ms, 0ms});
            ::kill(::getpid(), signal); // ends the process
        });
        char seen = 0;
        ssize_t n = ::read(pipe, &seen, 1);
        ::close(pipe);
        int status = 0;
        ::waitpid(child, &status, 0);
        CHECK(n == 1);
        CHECK(seen == 'R');
        // Killed by the signal, or (sanitizer builds) ended by the sanitizer's report of it.
        CHECK((WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0)));
    }
}

TEST_CASE("scoped pause: SIGKILL at the pause: the guardian resumes the guest and the lock says so")
{
    LockDirectory locks;
    auto [child, pipe] = fork_with_pipe([](int out) {
        LiveGuest guest("qemu-5-6");
        guest.guardian_pipe = out;
        vmi::ScopedPause pause(guest, true, {0ms, 0ms});
        ::kill(::getpid(), SIGKILL);
    });
    char seen = 0;
    ssize_t n = ::read(pipe, &seen, 1); // the guardian's resume, or EOF when every writer is gone
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status));
    CHECK(n == 1);
    CHECK(seen == 'G');
    // The guardian records its resume before it ends and closes the pipe.
    char rest = 0;
    CHECK(::read(pipe, &rest, 1) == 0);
    ::close(pipe);
    CHECK(read_file(locks.path + "/qemu-5-6.lock") == fmt::format("{} resumed\n", child));
}

TEST_CASE("scoped pause: no guardian resume after a normal end, or for a guest paused by someone else")
{
    LockDirectory locks;
    for (bool paused_before : {false, true}) {
        CAPTURE(paused_before);
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        {
            LiveGuest guest("qemu-7-8");
            guest.paused_before = paused_before;
            guest.guardian_pipe = fds[1];
            vmi::ScopedPause pause(guest, true, {0ms, 0ms});
            pause.resume();
            CHECK(guest.resumes == (paused_before ? 0 : 1));
        }
        ::close(fds[1]);
        char seen = 0;
        CHECK(::read(fds[0], &seen, 1) == 0); // the guardian ended without a resume
        ::close(fds[0]);
        std::string record = read_file(locks.path + "/qemu-7-8.lock");
        CHECK(record == fmt::format("{} {}\n", ::getpid(), paused_before ? "locked " : "resumed"));
    }
}

TEST_CASE("scoped pause: a pause that a dead tool left in force is resumed by the next one, or by itself")
{
    LockDirectory locks;
    std::string lock = locks.path + "/qemu-9-10.lock";
    std::ofstream(lock) << "4242 paused \n";
    LiveGuest guest("qemu-9-10");
    guest.paused_before = true;
    {
        vmi::ScopedPause pause(guest, true, {0ms, 0ms});
        CHECK(guest.resumes == 1); // the abandoned pause, before ours
        CHECK(guest.pauses == 1);
        pause.resume();
    }
    CHECK(guest.resumes == 2);
    CHECK(read_file(lock) == fmt::format("{} resumed\n", ::getpid()));

    std::ofstream(lock) << "4242 paused \n";
    guest.paused_before = true;
    CHECK(vmi::resume_abandoned_pause(guest, 0ms));
    CHECK(guest.resumes == 3);
    CHECK_FALSE(vmi::resume_abandoned_pause(guest, 0ms)); // recorded as resumed now
    // A guest paused by someone else, with no dead tool on record, is left alone.
    guest.paused_before = true;
    CHECK_FALSE(vmi::resume_abandoned_pause(guest, 0ms));
    CHECK(guest.paused_before);
}
