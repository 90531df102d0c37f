#include "qemu/UnixSocket.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmi/base/Error.hpp"

namespace vmi {

int connect_unix_socket(const std::string& path, const std::string& what, const std::string& refused_hint)
{
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof address.sun_path) fail("{} path '{}' is empty or too long", what, path);
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("cannot create a socket: {}", std::strerror(errno));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        int err = errno;
        ::close(fd);
        fail("cannot connect to {} '{}': {}{}", what, path, std::strerror(err),
             err == ECONNREFUSED && !refused_hint.empty() ? " (" + refused_hint + ")" : "");
    }
    return fd;
}

void send_all(int fd, std::string_view text, const std::string& who)
{
    std::size_t sent = 0;
    while (sent < text.size()) {
        ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("{}: cannot send: {}", who, std::strerror(errno));
        sent += static_cast<std::size_t>(n);
    }
}

} // namespace vmi
