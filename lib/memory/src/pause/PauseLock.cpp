#include "PauseLock.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

// A directory we may create files in: made (with `mode`) if missing; for a
// private one, it must be ours and no one else's to write.
bool usable_directory(const std::string& path, mode_t mode, bool must_be_private)
{
    if (path.empty()) return false;
    if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return false;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
    if (must_be_private && (st.st_uid != ::geteuid() || (st.st_mode & 022) != 0)) return false;
    return ::access(path.c_str(), W_OK | X_OK) == 0;
}

// A key as a file name: letters, digits and -_. as they are, others as _.
std::string file_name(const std::string& key)
{
    std::string out = key;
    std::replace_if(
        out.begin(), out.end(),
        [](char c) { return !(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'); }, '_');
    return out + ".lock";
}

// The states are padded to one width, so a record overwrites the last one
// whole without truncating the file (which a signal handler had better not).
constexpr const char* LOCKED = "locked ";
constexpr const char* PAUSED = "paused ";
constexpr const char* RESUMED = "resumed";

struct LockRecord {
    int pid = 0;
    std::string state;
};

LockRecord read_record(int fd)
{
    char text[64] = {};
    ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
    LockRecord out;
    if (n <= 0) return out;
    char state[16] = {};
    if (std::sscanf(text, "%d %15s", &out.pid, state) >= 1) out.state = state;
    return out;
}

std::string holder_of(int fd)
{
    int pid = read_record(fd).pid;
    return pid > 0 ? fmt::format("pid {}", pid) : std::string("pid unknown");
}

} // namespace

std::string pause_lock_directory()
{
    if (const char* dir = std::getenv("VMI_LOCK_DIR"); dir && *dir) {
        if (!usable_directory(dir, 0755, false)) fail("VMI_LOCK_DIR '{}' is not a directory this user can write", dir);
        return dir;
    }
    // One directory for every user who may write it, so that their tools
    // see each other's locks; a private one otherwise.
    if (usable_directory("/run/vmitools", 0755, false)) return "/run/vmitools";
    if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime && *runtime) {
        std::string dir = std::string(runtime) + "/vmitools";
        if (usable_directory(dir, 0700, true)) return dir;
    }
    std::string dir = fmt::format("/tmp/vmitools-{}", ::geteuid());
    if (usable_directory(dir, 0700, true)) return dir;
    fail("no directory for the pause lock: /run/vmitools, $XDG_RUNTIME_DIR/vmitools and {} cannot be used "
         "(set VMI_LOCK_DIR)",
         dir);
}

PauseLock::PauseLock(const std::string& key, std::chrono::milliseconds wait)
{
    auto start = std::chrono::steady_clock::now();
    path_ = pause_lock_directory() + "/" + file_name(key);
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd_ < 0) fail("cannot open the pause lock {}: {}", path_, std::strerror(errno));
    // Polled rather than blocking: a blocking flock() could only be bounded
    // with a timer signal, and signals are the caller's to use.
    auto deadline = start + wait;
    auto step = std::chrono::microseconds(500);
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err == EINTR) continue;
        if (err != EWOULDBLOCK) {
            ::close(fd_);
            fail("cannot lock {}: {}", path_, std::strerror(err));
        }
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            std::string holder = holder_of(fd_);
            ::close(fd_);
            fail("another vmitools process ({}) has held this guest's pause lock for more than {} ms ({}): "
                 "try again, or wait longer with --lock-wait MS",
                 holder, wait.count(), path_);
        }
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(step, deadline - now));
        step = std::min(step * 2, std::chrono::microseconds(20000));
    }
    waited_ = std::chrono::steady_clock::now() - start;
    // We hold the lock, so its last holder is gone: "paused" means it died
    // with its pause in force.
    if (LockRecord last = read_record(fd_); last.state == "paused" && last.pid > 0) abandoned_by_ = last.pid;
    auto make = [](Record& out, const char* state) {
        std::string text = fmt::format("{} {}\n", ::getpid(), state);
        std::copy_n(text.begin(), std::min(text.size(), out.size() - 1), out.begin());
    };
    make(paused_record_, PAUSED);
    make(resumed_record_, RESUMED);
    Record locked{};
    make(locked, LOCKED);
    // Only a waiter's message and the next holder would miss this if it fails.
    if (::ftruncate(fd_, 0) == 0) record(locked);
}

void PauseLock::record(const Record& text) const noexcept
{
    std::size_t size = 0;
    while (size < text.size() && text[size] != '\0') ++size;
    [[maybe_unused]] ssize_t written = ::pwrite(fd_, text.data(), size, 0);
}

PauseLock::~PauseLock()
{
    if (fd_ >= 0) ::close(fd_); // closing the last descriptor drops the lock
}

} // namespace vmi
