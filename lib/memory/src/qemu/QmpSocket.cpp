#include "qemu/QmpSocket.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qemu/UnixSocket.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

// A QMP reply larger than this is not one we asked for (info mtree is ~10 KiB;
// 4 KiB of memory through xp is ~12 KiB of text).
constexpr std::size_t MAX_MESSAGE_BYTES = 64 << 20;

// What the signal handler sends, and how long it waits for QEMU to act on it.
constexpr char CONT_REQUEST[] = "{\"execute\":\"cont\"}\n";
constexpr int SIGNAL_HANDLER_WAIT_MS = 2000;

// Whether `text` holds `word` (no library calls: used in a signal handler).
bool holds(const char* text, std::size_t size, const char* word, std::size_t word_size)
{
    for (std::size_t i = 0; i + word_size <= size; ++i) {
        std::size_t j = 0;
        while (j < word_size && text[i + j] == word[j]) ++j;
        if (j == word_size) return true;
    }
    return false;
}

} // namespace

QmpSocket::QmpSocket(const std::string& path, int timeout_ms, QmpHold hold, int busy_ms)
    : path_(path), timeout_ms_(timeout_ms), hold_(hold), busy_ms_(busy_ms)
{
    std::lock_guard lock(mutex_);
    connect_locked();
}

void QmpSocket::connect_locked()
{
    int fd = connect_unix_socket(path_, "QMP socket", "is QEMU running with -qmp unix:PATH,server,nowait?");
    ucred peer{};
    socklen_t length = sizeof peer;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0) pid_ = peer.pid;
    struct stat st {};
    if (::stat(path_.c_str(), &st) == 0) {
        socket_device_ = st.st_dev;
        socket_inode_ = st.st_ino;
    }
    fd_ = fd;
    buffer_.clear();
    try {
        // QEMU greets a client once the one before it has gone: a greeting that
        // does not come says another client holds the socket (nothing else does).
        if (hold_ == QmpHold::briefly) {
            pollfd p{fd, POLLIN, 0};
            int ready = 0;
            do ready = ::poll(&p, 1, busy_ms_);
            while (ready < 0 && errno == EINTR);
            if (ready == 0)
                fail("QMP socket '{}' is busy: no greeting within {} ms (QEMU serves one client at a time, and "
                     "another one holds it)",
                     path_, busy_ms_);
        }
        nlohmann::json greeting =
            read_message(std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_));
        if (!greeting.contains("QMP")) fail("'{}' is not a QMP socket (no QMP greeting)", path_);
        const nlohmann::json& qemu = greeting["QMP"]["version"]["qemu"];
        if (qemu.is_object())
            version_ = qemu.value("major", 0) * 10000 + qemu.value("minor", 0) * 100 + qemu.value("micro", 0);
        command_locked("qmp_capabilities", nlohmann::json::object());
    } catch (...) {
        ::close(fd_.exchange(-1));
        throw;
    }
}

void QmpSocket::hold()
{
    std::lock_guard lock(mutex_);
    if (fd_ < 0) connect_locked();
}

void QmpSocket::release()
{
    if (hold_ != QmpHold::briefly) return;
    std::lock_guard lock(mutex_);
    if (fd_ < 0) return;
    ::close(fd_.exchange(-1));
    buffer_.clear();
}

QmpSocket::~QmpSocket()
{
    if (fd_ >= 0) ::close(fd_.exchange(-1));
}

std::string QmpSocket::describe() const { return fmt::format("QMP socket {}", path_); }

std::string QmpSocket::guest_key() const { return fmt::format("qmp-{}-{}", socket_device_, socket_inode_); }

std::string QmpSocket::resume_command() const
{
    return fmt::format(R"({{"execute":"cont"}} on QMP socket {} (after {{"execute":"qmp_capabilities"}}))", path_);
}

void QmpSocket::cont_from_signal_handler() noexcept
{
    // No lock, no allocation: a request half-sent by the thread that crashed
    // is lost either way. Then wait a little for QEMU's RESUME event, so the
    // request is read before this process dies and closes the socket. (A
    // briefly held socket is held from before the pause to after it.)
    const int fd = fd_;
    if (fd < 0) return;
    const char* request = CONT_REQUEST;
    std::size_t left = sizeof CONT_REQUEST - 1;
    while (left > 0) {
        ssize_t n = ::send(fd, request, left, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        request += n;
        left -= static_cast<std::size_t>(n);
    }
    static constexpr char EVENT[] = "\"RESUME\"";
    char chunk[4096 + sizeof EVENT];
    std::size_t kept = 0; // the tail of the last chunk, for an event split across two
    timespec start{};
    ::clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        timespec now{};
        ::clock_gettime(CLOCK_MONOTONIC, &now);
        long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (waited >= SIGNAL_HANDLER_WAIT_MS) return;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(SIGNAL_HANDLER_WAIT_MS - waited)) <= 0) return;
        ssize_t n = ::recv(fd, chunk + kept, sizeof chunk - kept, 0);
        if (n <= 0) return;
        std::size_t size = kept + static_cast<std::size_t>(n);
        if (holds(chunk, size, EVENT, sizeof EVENT - 1)) return;
        kept = std::min(size, sizeof EVENT - 1);
        for (std::size_t i = 0; i < kept; ++i) chunk[i] = chunk[size - kept + i];
    }
}

void QmpSocket::send(const nlohmann::json& message) { send_all(fd_, message.dump() + "\n", describe()); }

nlohmann::json QmpSocket::read_message(std::chrono::steady_clock::time_point deadline)
{
    for (;;) {
        std::size_t newline = buffer_.find('\n');
        if (newline != std::string::npos) {
            std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
            nlohmann::json message = nlohmann::json::parse(line, nullptr, false);
            if (message.is_discarded() || !message.is_object())
                fail("{}: QEMU sent something that is not QMP", describe());
            return message;
        }
        if (buffer_.size() > MAX_MESSAGE_BYTES) fail("{}: QMP message too large", describe());
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd p{fd_, POLLIN, 0};
        int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
        if (ready < 0 && errno == EINTR) continue;
        if (ready == 0) fail("{}: QEMU did not answer within {} ms", describe(), timeout_ms_);
        char chunk[65536];
        ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("{}: cannot read: {}", describe(), std::strerror(errno));
        if (n == 0) fail("{}: QEMU closed the connection (did it exit?)", describe());
        buffer_.append(chunk, static_cast<std::size_t>(n));
    }
}

nlohmann::json QmpSocket::command(const std::string& name, const nlohmann::json& arguments)
{
    std::lock_guard lock(mutex_);
    if (fd_ < 0) connect_locked();
    return command_locked(name, arguments);
}

nlohmann::json QmpSocket::command_locked(const std::string& name, const nlohmann::json& arguments)
{
    std::uint64_t id = next_id_++;
    nlohmann::json request{{"execute", name}, {"id", id}};
    if (!arguments.empty()) request["arguments"] = arguments;
    send(request);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
    for (;;) {
        nlohmann::json reply = read_message(deadline);
        if (reply.contains("event")) continue; // STOP, RESUME, ...: not our answer
        // An answer to an earlier command that timed out, or one without an
        // id (QEMU answers a request it cannot parse that way): not ours.
        if (!reply.contains("id") || reply["id"] != id) continue;
        if (reply.contains("error")) {
            const nlohmann::json& error = reply["error"];
            fail("{}: {} failed: {}", describe(), name,
                 error.is_object() && error.contains("desc") && error["desc"].is_string()
                     ? error["desc"].get<std::string>()
                     : error.dump());
        }
        if (reply.contains("return")) return reply["return"];
    }
}

} // namespace vmi
