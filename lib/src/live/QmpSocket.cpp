#include "vmi/QmpSocket.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmi/Error.hpp"

namespace vmi {
namespace {

// A QMP reply larger than this is not one we asked for (info mtree is ~10 KiB;
// 4 KiB of memory through xp is ~12 KiB of text).
constexpr std::size_t MAX_MESSAGE_BYTES = 64 << 20;

} // namespace

QmpSocket::QmpSocket(const std::string& path, int timeout_ms) : path_(path), timeout_ms_(timeout_ms)
{
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof address.sun_path) fail("QMP socket path '{}' is empty or too long", path);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) fail("cannot create a socket: {}", std::strerror(errno));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        int err = errno;
        ::close(fd_);
        fd_ = -1;
        fail("cannot connect to QMP socket '{}': {}{}", path, std::strerror(err),
             err == ECONNREFUSED ? " (is QEMU running with -qmp unix:PATH,server,nowait?)" : "");
    }
    ucred peer{};
    socklen_t length = sizeof peer;
    if (::getsockopt(fd_, SOL_SOCKET, SO_PEERCRED, &peer, &length) == 0) pid_ = peer.pid;

    try {
        nlohmann::json greeting = read_message();
        if (!greeting.contains("QMP")) fail("'{}' is not a QMP socket (no QMP greeting)", path);
        const nlohmann::json& qemu = greeting["QMP"]["version"]["qemu"];
        if (qemu.is_object())
            version_ = qemu.value("major", 0) * 10000 + qemu.value("minor", 0) * 100 + qemu.value("micro", 0);
        command("qmp_capabilities");
    } catch (...) {
        ::close(fd_);
        fd_ = -1;
        throw;
    }
}

QmpSocket::~QmpSocket()
{
    if (fd_ >= 0) ::close(fd_);
}

std::string QmpSocket::describe() const { return fmt::format("QMP socket {}", path_); }

void QmpSocket::send(const nlohmann::json& message)
{
    std::string text = message.dump() + "\n";
    std::size_t sent = 0;
    while (sent < text.size()) {
        ssize_t n = ::send(fd_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("{}: cannot send: {}", describe(), std::strerror(errno));
        sent += static_cast<std::size_t>(n);
    }
}

nlohmann::json QmpSocket::read_message()
{
    for (;;) {
        std::size_t newline = buffer_.find('\n');
        if (newline != std::string::npos) {
            std::string line = buffer_.substr(0, newline);
            buffer_.erase(0, newline + 1);
            if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
            nlohmann::json message = nlohmann::json::parse(line, nullptr, false);
            if (message.is_discarded() || !message.is_object()) fail("{}: QEMU sent something that is not QMP", describe());
            return message;
        }
        if (buffer_.size() > MAX_MESSAGE_BYTES) fail("{}: QMP message too large", describe());
        pollfd p{fd_, POLLIN, 0};
        int ready = ::poll(&p, 1, timeout_ms_);
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
    nlohmann::json request{{"execute", name}};
    if (!arguments.empty()) request["arguments"] = arguments;
    send(request);
    for (;;) {
        nlohmann::json reply = read_message();
        if (reply.contains("event")) continue; // STOP, RESUME, ...: not our answer
        if (reply.contains("error")) {
            const nlohmann::json& error = reply["error"];
            fail("{}: {} failed: {}", describe(), name,
                 error.is_object() && error.contains("desc") && error["desc"].is_string() ? error["desc"].get<std::string>()
                                                                                         : error.dump());
        }
        if (reply.contains("return")) return reply["return"];
    }
}

} // namespace vmi
