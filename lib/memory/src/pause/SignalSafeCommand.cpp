#include "SignalSafeCommand.hpp"

#include <csignal>
#include <cstdlib>
#include <ctime>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ; // NOLINT(readability-redundant-declaration): for execve() in a signal handler

namespace vmi {
namespace {

// `program` in $PATH, or "".
std::string find_in_path(const std::string& program)
{
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        std::size_t colon = dirs.find(':', start);
        std::string dir = dirs.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
        std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    return {};
}

} // namespace

SignalSafeCommand::SignalSafeCommand(const std::string& program, std::vector<std::string> arguments)
{
    std::string path = find_in_path(program);
    if (path.empty()) return;
    words_.push_back(path);
    for (std::string& word : arguments) words_.push_back(std::move(word));
    for (std::string& word : words_) argv_.push_back(word.data());
    argv_.push_back(nullptr);
}

void SignalSafeCommand::run(int wait_ms) const noexcept
{
    if (argv_.empty()) return;
    pid_t child = ::_Fork();
    if (child < 0) return;
    if (child == 0) {
        ::execve(argv_[0], argv_.data(), environ);
        ::_exit(127);
    }
    for (int waited_ms = 0; waited_ms < wait_ms; waited_ms += 10) {
        int status = 0;
        if (::waitpid(child, &status, WNOHANG) != 0) return;
        timespec pause{0, 10L * 1000 * 1000};
        ::nanosleep(&pause, nullptr);
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
}

} // namespace vmi
