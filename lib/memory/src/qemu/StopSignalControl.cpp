#include "qemu/StopSignalControl.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <thread>

#include "qemu/ProcessStat.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

// How long the threads of a QEMU may take to stop after SIGSTOP.
constexpr auto STOP_WAIT = std::chrono::seconds(5);

// The state letter of /proc/PID[/task/TID]/stat ('R', 'S', 'T', ...); 0 when gone.
char state_of(const std::filesystem::path& stat_path)
{
    std::optional<std::string> state = proc_stat_field(stat_path.string(), 3);
    return state && !state->empty() ? state->front() : 0;
}

// Whether every thread of `pid` is stopped; false when one still runs.
bool all_threads_stopped(int pid)
{
    std::error_code error;
    std::filesystem::directory_iterator it(fmt::format("/proc/{}/task", pid), error), end;
    if (error) return false;
    bool any = false;
    for (; it != end; it.increment(error)) {
        if (error) return false;
        char state = state_of(it->path() / "stat");
        if (state != 0 && state != 'T' && state != 't') return false;
        any = any || state != 0;
    }
    return any;
}

} // namespace

StopSignalControl::StopSignalControl(int pid, std::string name) : pid_(pid), name_(std::move(name)) {}

nlohmann::json StopSignalControl::command(const std::string& name, const nlohmann::json&)
{
    fail("{}: no QEMU monitor to send {} to", describe(), name);
}

std::string StopSignalControl::describe() const
{
    return fmt::format("QEMU process {} ('{}', no monitor)", pid_, name_);
}

void StopSignalControl::stop()
{
    if (::kill(pid_, SIGSTOP) != 0) fail("{}: cannot stop it: {}", describe(), std::strerror(errno));
    // SIGSTOP stops each thread when it next runs: wait until all have.
    auto deadline = std::chrono::steady_clock::now() + STOP_WAIT;
    while (!all_threads_stopped(pid_)) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid_, SIGCONT);
            fail("{}: its threads did not all stop within {} s of SIGSTOP", describe(),
                 std::chrono::duration_cast<std::chrono::seconds>(STOP_WAIT).count());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void StopSignalControl::cont()
{
    if (::kill(pid_, SIGCONT) != 0) fail("{}: cannot continue it: {}", describe(), std::strerror(errno));
}

bool StopSignalControl::running()
{
    char state = state_of(fmt::format("/proc/{}/stat", pid_));
    if (state == 0) fail("{}: the process is gone", describe());
    return state != 'T' && state != 't';
}

std::string StopSignalControl::guest_key() const { return fmt::format("qemu-process-{}", pid_); }

std::string StopSignalControl::resume_command() const { return fmt::format("kill -CONT {}", pid_); }

void StopSignalControl::cont_from_signal_handler() noexcept { ::kill(pid_, SIGCONT); }

} // namespace vmi
